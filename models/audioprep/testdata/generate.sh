#!/usr/bin/env bash
# Regenerates the committed test audio in testdata/audio with Debian tools:
#   apt-get install sox libsox-fmt-all lame flac opus-tools mkvtoolnix
# Every file is synthesized (tones, chirps, noise, silence), never recorded.
# The resampling references are made separately, by the Go test generator:
#   go test -tags gen -run TestGenerateResampleReference ./audioprep
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/audio"
rm -f ./*.wav ./*.mp3 ./*.flac ./*.opus ./*.ogg ./*.webm ./*.mka

sx() { sox -R -D "$@"; } # -R: repeatable noise; -D: no dither

# WAV: one 16 kHz float64 sine in every sample format sox writes (the test
# compares each with it), plain and WAVE_FORMAT_EXTENSIBLE headers; then odd
# rates, stereo, more channels, silence and no samples at all.
sx -n -r 16000 -c 1 -b 64 -e floating-point tone_16k_f64.wav synth 0.25 sine 440 vol 0.5
for f in "f32 -b 32 -e floating-point" "s32 -b 32 -e signed" "s24 -b 24" "s16 -b 16" "u8 -b 8 -e unsigned" \
	"ulaw -e u-law" "alaw -e a-law"; do
	set -- $f
	sx tone_16k_f64.wav "${@:2}" "tone_16k_$1.wav"
done
sx tone_16k_f64.wav -t wavpcm -b 24 tone_16k_s24_plain.wav
sx -n -r 16000 -c 1 -b 16 tone880_16k_s16.wav synth 0.25 sine 880 vol 0.5
sx -M tone_16k_s16.wav tone880_16k_s16.wav stereo_16k_s16.wav
sx -n -r 8000 -c 1 -b 16 tone1k_8k_s16.wav synth 0.5 sine 1000 vol 0.5
sx -n -r 22050 -c 1 -b 24 noise_22050_s24.wav synth 0.5 whitenoise vol 0.3
sx -n -r 11025 -c 1 -b 32 -e signed tone500_11025_s32.wav synth 0.5 sine 500 vol 0.5
sx -n -r 48000 -c 1 -b 32 -e floating-point chirp_48k_f32.wav synth 0.5 sine 100-7000 vol 0.5
sx -n -r 96000 -c 1 -b 64 -e floating-point tone3k_96k_f64.wav synth 0.1 sine 3000 vol 0.5
sx -n -r 44100 -c 2 -b 16 stereo_44100_s16.wav synth 0.5 sine 440 sine 880 vol 0.5
sx -n -r 48000 -c 3 -b 16 three_48k_s16.wav synth 0.25 sine 300 sine 600 sine 900 vol 0.5
sx -n -r 16000 -c 1 -b 16 silence_16k.wav trim 0 0.5
sx -n -r 16000 -c 1 -b 16 empty_16k.wav trim 0 0

# Sources for the compressed formats.
sx -n -r 44100 -c 2 -b 16 /tmp/src44.wav synth 1 sine 100-7000 sine 440 vol 0.5
sx -n -r 48000 -c 1 -b 16 /tmp/src48.wav synth 1 sine 100-7000 vol 0.5
sx -n -r 16000 -c 1 -b 16 /tmp/src16.wav synth 1 sine 300-3000 vol 0.5

lame --quiet -b 96 --resample 44.1 /tmp/src44.wav chirp_44100_stereo.mp3
lame --quiet -b 32 -m m --tt "test tone" --ta edgeinfer --add-id3v2 /tmp/src16.wav chirp_16k_mono_id3.mp3
# FLAC of two WAV fixtures: lossless, so their samples must match exactly.
flac --silent -8 -o stereo_44100_s16.flac stereo_44100_s16.wav
flac --silent -5 -o noise_22050_s24.flac noise_22050_s24.wav
opusenc --quiet --bitrate 64 /tmp/src48.wav chirp_48k_mono.opus
opusenc --quiet --bitrate 48 /tmp/src44.wav chirp_44100_stereo.opus
opusenc --quiet --bitrate 24 /tmp/src16.wav chirp_16k_mono.opus
mkvmerge --quiet --webm -o chirp_48k_mono.webm chirp_48k_mono.opus
mkvmerge --quiet --webm -o chirp_44100_stereo.webm chirp_44100_stereo.opus
sx /tmp/src44.wav -C 3 chirp_44100_stereo_vorbis.ogg
# Decoded by the reference tools, for the decoders' checks.
lame --quiet --decode chirp_44100_stereo.mp3 /tmp/mp3.wav && sx /tmp/mp3.wav -b 16 chirp_44100_stereo.mp3.ref.wav
opusdec --quiet --no-dither --rate 48000 chirp_48k_mono.opus /tmp/opus.wav && sx /tmp/opus.wav -b 16 chirp_48k_mono.opus.ref.wav
rm -f /tmp/src44.wav /tmp/src48.wav /tmp/src16.wav /tmp/mp3.wav /tmp/opus.wav
du -ch . | tail -1
