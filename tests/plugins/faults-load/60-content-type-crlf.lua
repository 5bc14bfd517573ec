-- faults-load/content-type-crlf: a content type is a header value: no CR LF in it.
local p = ctg.plugin{ name = "load-content-type" }
p:export{ key = "injection", label = "Injection", content_type = "text/plain\r\nX-Injected: 1",
          render = function() return "" end }
