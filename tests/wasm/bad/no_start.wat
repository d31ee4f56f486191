;; A module without _start cannot be run as a command.
(module (memory (export "memory") 1) (func (export "main")))
