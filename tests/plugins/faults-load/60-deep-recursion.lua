-- faults-load/deep-recursion: the top level overflows the Lua stack.
ctg.plugin{ name = "load-recursion" }
local function deep()
  local a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, q, r, s, t, u, v, w, x, y, z
  return deep() + 1
end
deep()
