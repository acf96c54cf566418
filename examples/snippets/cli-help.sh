# docs/cli.md: the overview.
source examples/snippets/transcript.bash
run 'wskit --help'
