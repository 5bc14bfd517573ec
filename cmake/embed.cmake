# Writes OUTPUT, a C source defining `const struct embedded_file NAME[]`: one entry per file of
# FILES (paths relative to DIR, separated by commas), with its bytes, its media type (from its extension) and an
# ETag made of its SHA-256, then an entry whose name is NULL. Run with cmake -P.
set(types_html "text/html; charset=utf-8")
set(types_js "text/javascript; charset=utf-8")
set(types_css "text/css; charset=utf-8")
set(types_svg "image/svg+xml")
set(types_yaml "application/yaml; charset=utf-8")

string(REPLACE "," ";" FILES "${FILES}")
set(arrays "")
set(entries "")
set(index 0)
foreach(file ${FILES})
  file(READ "${DIR}/${file}" hex HEX)
  file(SHA256 "${DIR}/${file}" digest)
  string(SUBSTRING "${digest}" 0 16 etag)
  string(LENGTH "${hex}" hex_length)
  math(EXPR length "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "^.*\\." "" extension "${file}")
  if(NOT DEFINED types_${extension})
    message(FATAL_ERROR "embed.cmake: no media type known for ${file}")
  endif()
  string(APPEND arrays "static const unsigned char file_${index}[] = {${bytes}0};\n")
  string(APPEND entries
    "    {\"${file}\", \"${types_${extension}}\", \"\\\"${etag}\\\"\", file_${index}, ${length}},\n")
  math(EXPR index "${index} + 1")
endforeach()

file(WRITE "${OUTPUT}"
  "/* Generated from ${DIR} by cmake/embed.cmake: do not edit. */\n"
  "#include \"ctg/embedded.h\"\n\n"
  "${arrays}\n"
  "const struct embedded_file ${NAME}[] = {\n${entries}    {0},\n};\n")
