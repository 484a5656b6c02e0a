# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# Makes a man page from a page of docs/ (run by `make install`):
#   cmake -DMD2MAN=go-md2man -DINPUT=docs/cli.md -DOUTPUT=build/man/rill.1 -DNAME=rill
#         -DSECTION=1 -DWHAT="one line" -DVERSION=0.2.0 -P cmake/man.cmake
# The page's title (its first "# " line) becomes the NAME section, its "## "
# sections become the man page's sections, and relative links name the doc
# they point to.  The date is the one SOURCE_DATE_EPOCH gives, if set.
foreach(v MD2MAN INPUT OUTPUT NAME SECTION WHAT VERSION)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "cmake/man.cmake: -D${v}= is missing")
  endif()
endforeach()
file(READ "${INPUT}" md)
# the title, then the headings one level up
string(REGEX REPLACE "^#[^\n]*\n" "" md "${md}")
string(REGEX REPLACE "(^|\n)##(#*) " "\\1\\2# " md "${md}")
# Tables become lists ("- first cell: the others"): a man page is read on
# an 80-column terminal, where tables of long cells do not fit.  A header
# row and its separator go; an escaped \| stays a bar.
string(REPLACE "\\|" "@RILL_BAR@" md "${md}")
string(REGEX REPLACE "\n\\|[^\n]*\\|\n\\|[-| :]+\\|" "" md "${md}")
string(REGEX REPLACE "\n\\| *([^\n|]*[^\n| ]) *\\| *([^\n]*[^\n| ]) *\\|" "\n- \\1: \\2" md "${md}")
string(REGEX REPLACE "\n\\| *\\| *([^\n]*[^\n| ]) *\\|" "\n- \\1" md "${md}")
string(REGEX REPLACE "(\n- [^\n]*[^ ]) +\\| +" "\\1; " md "${md}")
string(REGEX REPLACE "(\n- [^\n]*[^ ]) +\\| +" "\\1; " md "${md}")
string(REGEX REPLACE "(\n- [^\n]*[^ ]) +\\| +" "\\1; " md "${md}")
string(REPLACE "@RILL_BAR@" "|" md "${md}")
# A man page has no links: [`path`](...) -> `path`, [text](file.md#anchor)
# -> text (file.md)
string(REGEX REPLACE "\\[(`[^`\n]+`)\\]\\([^)\n]*\\)" "\\1" md "${md}")
string(REGEX REPLACE "\\[([^]\n]+)\\]\\(([A-Za-z0-9_./-]+\\.md)(#[^)]*)?\\)" "\\1 (\\2)" md "${md}")
string(TOUPPER "${NAME}" up)
string(TIMESTAMP date "%Y-%m-%d" UTC)
get_filename_component(dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
file(WRITE "${OUTPUT}.md" "% ${up} ${SECTION} \"${date}\" \"rill ${VERSION}\" \"rill manual\"\n\n# NAME\n\n${NAME} - ${WHAT}\n\n${md}")
execute_process(COMMAND "${MD2MAN}" -in "${OUTPUT}.md" -out "${OUTPUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${MD2MAN} failed on ${INPUT}")
endif()
file(REMOVE "${OUTPUT}.md")
