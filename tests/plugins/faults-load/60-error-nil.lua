-- faults-load/error-nil: the top level raises nil.
ctg.plugin{ name = "load-error-nil" }
error(nil)
