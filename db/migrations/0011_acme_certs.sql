-- ACME issuance (RFC 8555 section 7.4) and renewal information (RFC 9773):
-- the certificate a finalized order produced, and the certificate a new
-- order replaces.
ALTER TABLE acme_orders ADD COLUMN certificate_serial text REFERENCES certificates (serial);
ALTER TABLE acme_orders ADD COLUMN replaces text REFERENCES certificates (serial);
COMMENT ON COLUMN acme_orders.certificate_serial IS 'the certificate finalize issued (status valid); the URL is /acme/cert/<serial>';
COMMENT ON COLUMN acme_orders.replaces IS 'RFC 9773 replaces: the serial of the account''s certificate this order renews';
CREATE INDEX acme_orders_replaces ON acme_orders (replaces) WHERE replaces IS NOT NULL;
