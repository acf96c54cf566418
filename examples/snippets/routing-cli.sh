# docs/routing.md: wskit connect against examples/light-router.ts.
source examples/snippets/transcript.bash
background 8765 node --import tsx examples/light-router.ts
run 'wskit connect ws://127.0.0.1:8765/light/on </dev/null'
run 'wskit connect ws://127.0.0.1:8765/light/dim </dev/null'
run 'wskit connect ws://127.0.0.1:8765/nowhere </dev/null'
