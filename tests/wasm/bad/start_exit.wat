;; A start function that calls proc_exit(7): the run ends with status 7.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func $s (call $exit (i32.const 7)))
  (start $s)
  (func (export "_start") unreachable))
