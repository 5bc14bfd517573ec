-- faults-load/error-not-utf8: the error message holds bytes that are not UTF-8.
ctg.plugin{ name = "load-error-bytes" }
error("octets \255\254 invalides")
