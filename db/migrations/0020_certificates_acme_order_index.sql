-- No query reads certificates by acme_order_id (an order names its
-- certificate in acme_orders.certificate_serial), so the partial index on
-- it only cost every ACME issuance an index insert and its WAL record
-- (bench/acme.sh with ACME_BENCH_PGSS=1: 0 scans in pg_stat_user_indexes;
-- callgrind, finalize's issuance statement: 596-608 K -> 569-584 K instructions).
DROP INDEX certificates_acme_order;
