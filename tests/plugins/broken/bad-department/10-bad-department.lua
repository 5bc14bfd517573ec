-- broken/bad-department: 20 is no INSEE department code (2A and 2B are).
local p = ctg.plugin{ name = "corse", department = "20" }
