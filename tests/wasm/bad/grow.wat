;; memory.grow past --max-memory fails inside the guest (-1): exit 99.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $exit (i32.add (i32.const 100) (memory.grow (i32.const 1000))))))
