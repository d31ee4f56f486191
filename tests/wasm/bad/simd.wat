;; Valid, and the interpreter runs it; wasm2c 1.0.32 cannot translate SIMD
;; (its C writer aborts): compile must refuse it cleanly.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (v128.store (i32.const 0)
      (i32x4.add (v128.load (i32.const 0)) (v128.const i32x4 1 2 3 4)))))
