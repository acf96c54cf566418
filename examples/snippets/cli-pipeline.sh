# docs/cli.md: wskit connect in a pipeline, against wskit echo.
source examples/snippets/transcript.bash
background 8765 wskit echo
run "printf 'hello\n{\"a\":1}\n' | wskit connect ws://127.0.0.1:8765"
run 'wskit connect ws://127.0.0.1:8765 -x one -x two -w 1 -q'
run 'seq 100 | wskit connect ws://127.0.0.1:8765 | sort -n | tail -1'
