-- faults-load/error-string: the top level raises an error (a string).
ctg.plugin{ name = "load-error-string" }
error("chargement impossible")
