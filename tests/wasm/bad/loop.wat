;; An endless loop in _start: only the CPU or wall-clock budget ends it.
(module
  (memory (export "memory") 1)
  (func (export "_start") (loop (br 0))))
