#!/usr/bin/env bash
# Regenerates the gallery of docs/gallery.md with the embedded model (default settings, seed 0).
# Animated WebP keeps the alpha channel: the page background shows through.
set -euo pipefail
cd "$(dirname "$0")"
gen() { wan-alpha generate "$@" --overwrite; }
gen "a red balloon floating up, transparent background" -o balloon.webp
gen "a puff of white smoke rising slowly" -o smoke.webp
gen "an orange flame flickering" -o flame.webp
gen "a yellow star emoji spinning" -o star.webp
gen "a glowing blue orb" --ellipse 0.25,0.5,0.35,0.6 -o orb_left.webp
gen "a glowing blue orb" --ellipse 0.75,0.5,0.35,0.6 -o orb_right.webp
gen "a glowing blue orb" --ellipse 0.2,0.5,0.3,0.5 --ellipse-end 0.8,0.5,0.3,0.5 -o orb_moving.webp
