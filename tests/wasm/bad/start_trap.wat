;; A start function that traps during instantiation.
(module
  (memory (export "memory") 1)
  (func $boom unreachable)
  (start $boom)
  (func (export "_start")))
