#!/bin/sh
# Regenerates the README pictures from real runs. Run from the repository root after
# `cargo build`; needs tmux and python3.
set -eu
bin=./target/debug/threadlab
# The TUI: a real deadlock run in a 120x40 tmux pane, captured with its colours.
tmux new-session -d -s threadlab-assets -x 120 -y 40 "$bin run deadlock"
sleep 4
tmux capture-pane -t threadlab-assets -p -e > assets/tui-deadlock.ansi
tmux kill-session -t threadlab-assets
python3 assets/ansi2svg.py assets/tui-deadlock.ansi assets/tui-deadlock.svg "threadlab run deadlock"
# A real Python program traced, captured once it has ended (it runs for about a second).
tmux new-session -d -s threadlab-assets -x 120 -y 40 "$bin trace assets/trace-crawler.py"
sleep 5
tmux capture-pane -t threadlab-assets -p -e > assets/trace-crawler.ansi
tmux kill-session -t threadlab-assets
python3 assets/ansi2svg.py assets/trace-crawler.ansi assets/trace-crawler.svg "threadlab trace assets/trace-crawler.py"
# Timelines for slides, through the SVG exporter.
$bin export deadlock --format svg -o assets/timeline-deadlock.svg
$bin export producer-consumer --speed 2 --format svg -o assets/timeline-producer-consumer.svg
