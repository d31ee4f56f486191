;; Returns an i64 where an i32 is declared: must fail validation
;; (assembled with wat2wasm --no-check).
(module
  (func (export "_start") (result i32) (i64.const 0)))
