;; A WASI name with the wrong signature is as unknown as a missing one.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $w (i64.const 1)))))
