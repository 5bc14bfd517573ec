# Writes OUTPUT, a C source defining the bytes of INPUT as `const unsigned char NAME[]` (with a
# NUL after them) and their count as `const size_t NAME_len`. Run with cmake -P.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR length "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}"
  "/* Generated from ${INPUT} by cmake/embed.cmake: do not edit. */\n"
  "#include <stddef.h>\n"
  "extern const unsigned char ${NAME}[];\n"
  "extern const size_t ${NAME}_len;\n"
  "const unsigned char ${NAME}[] = {${bytes}0};\n"
  "const size_t ${NAME}_len = ${length};\n")
