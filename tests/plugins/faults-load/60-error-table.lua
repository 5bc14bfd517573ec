-- faults-load/error-table: the top level raises a table.
ctg.plugin{ name = "load-error-table" }
error({ code = 1 })
