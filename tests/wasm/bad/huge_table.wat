;; Ten million table slots: refused before any is allocated.
(module
  (table 10000000 funcref)
  (memory (export "memory") 1)
  (func (export "_start")))
