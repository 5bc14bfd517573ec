-- A file whose name starts with "." is not a plugin: if ctgd loaded it, the load would fail.
error("tests/plugins/full/.skipped.lua must not be loaded")
