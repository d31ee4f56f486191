;; An import no runtime provides: a clear error at instantiation.
(module
  (import "env" "launch_missiles" (func $m (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $m (i32.const 1))))
