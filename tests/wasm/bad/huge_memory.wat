;; 4 GiB of initial memory: refused before any is allocated.
(module
  (memory (export "memory") 65536)
  (func (export "_start")))
