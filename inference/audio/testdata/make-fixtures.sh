#!/bin/sh
# Regenerates the audio fixtures in this directory. Needs Debian's sox,
# vorbis-tools, lame and flac (apt-get install sox vorbis-tools lame flac).
# The outputs are checked in; tests never run this script.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Lossy sources: 0.5 s. Left channel 440 Hz, right 660 Hz, each at -6 dBFS
# (amplitude 0.5012), phase 0 at t = 0.
sox -n -r 44100 -c 2 -b 16 "$tmp/sine_44k.wav" synth 0.5 sine 440 sine 660 gain -6
# A 300 Hz -> 3 kHz linear chirp, mono 16 kHz, -3 dBFS.
sox -n -r 16000 -c 1 -b 16 "$tmp/chirp_16k.wav" synth 0.5 sine 300-3000 gain -3
# Six channels of tones and noise at 11.025 kHz.
sox -n -r 11025 -c 6 -b 16 "$tmp/six_11k.wav" synth 0.25 sine 200 sine 300 sine 400 sine 500 sine 600 whitenoise gain -8

# Ogg Vorbis, with libvorbis's own decode (oggdec, 16-bit little-endian raw)
# as the reference the tests compare against.
oggenc -Q -q 3 -o sine_44k_stereo.ogg "$tmp/sine_44k.wav"
oggenc -Q -q 0 -o chirp_16k_mono.ogg "$tmp/chirp_16k.wav"
oggenc -Q -q 2 -o six_11k.ogg "$tmp/six_11k.wav"
for f in sine_44k_stereo chirp_16k_mono six_11k; do
	oggdec -Q -R -o "$f.ogg.s16" "$f.ogg"
done

# MP3: MPEG-1 CBR with a LAME Info tag (gapless), and MPEG-2 (16 kHz) VBR
# with a Xing tag. Tests check length and alignment against the known sine.
lame --quiet -b 128 --resample 44.1 "$tmp/sine_44k.wav" sine_44k_stereo.mp3
lame --quiet -V 6 "$tmp/chirp_16k.wav" chirp_16k_mono.mp3

# Lossless: 0.1 s WAVs (0.03 s for six channels) written by sox, and FLAC encodes of the same PCM
# (tests require bit-exact agreement).
sox -n -r 44100 -c 2 -b 16 tone_44k_stereo_s16.wav synth 0.1 sine 440 sine 660 gain -6
sox -n -r 48000 -c 6 -b 24 tone_48k_6ch_s24.wav synth 0.03 sine 440 sine 550 sine 660 sine 770 sine 880 sine 990 gain -6
sox -n -r 8000 -c 1 -b 8 -e unsigned-integer tone_8k_mono_u8.wav synth 0.1 sine 440 gain -6
sox -n -r 22050 -c 2 -b 32 -e floating-point tone_22k_stereo_f32.wav synth 0.1 sine 440 sine 660 gain -6
flac -s -f -o tone_44k_stereo_s16.flac tone_44k_stereo_s16.wav
flac -s -f -o tone_48k_6ch_s24.flac tone_48k_6ch_s24.wav

# LAME's own decoder (mpglib, gapless) as a reference for the MPEG-2 file.
lame --quiet --decode -t chirp_16k_mono.mp3 chirp_16k_mono.mp3.s16
