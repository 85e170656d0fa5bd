# Turns a file into a C source defining a NUL-terminated char array, so JSON
# such as the config schema ships inside the binary and cannot go missing.
# Usage: cmake -DINPUT=f.json -DOUTPUT=f.c -DSYMBOL=name -P embed.cmake
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}" "/* Generated from ${INPUT}; do not edit. */\nconst char ${SYMBOL}[] = {${bytes}0x00};\n")
