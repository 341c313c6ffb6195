#!/usr/bin/env bash
# Regenerates the embedded voice prompts, configs/prompts/*.wav (`make prompts`):
#
#   - one phrase per row of configs/prompts/SCRIPT.tsv (name<TAB>text);
#   - welcome-<number> for every line of configs/hotlines.csv not named in
#     SCRIPT.tsv: "您拨打的<number><name>，已并入一二三四五政务服务热线。";
#   - hold: hold music, a gentle pentatonic melody of sine notes (~38 s) that
#     fades in and out, so it loops without a click.
#
# Speech is espeak-ng's Mandarin voice cmn-latn-pinyin (plain `cmn` reads
# characters as English-spoken pinyin). Digits are written as words before
# speaking, or espeak reads "12345" as a number, wrongly: service numbers
# 一二三一五, local numbers digit by digit with 幺 for 1 (零二八八七五九七二九四).
# Every file is 8 kHz mono 8-bit u-law WAV (format 7), silence trimmed,
# normalised to -3 dBFS (hold music to -10). Replace any prompt with a recording by putting a WAV
# of the same name in the folder named by sip.prompts (see README, Voice).
#
# Needs: espeak-ng, sox (apt-get install -y espeak-ng sox).
set -euo pipefail
export LC_ALL=C.UTF-8

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/configs/prompts
script=$out/SCRIPT.tsv
hotlines=$root/configs/hotlines.csv
voice=cmn-latn-pinyin
speed=${PROMPT_SPEED:-195} # words per minute; espeak counts a syllable as a word here

for tool in espeak-ng sox; do
	command -v "$tool" >/dev/null || { echo "gen-prompts: $tool is missing (apt-get install -y espeak-ng sox)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# service_digits 12315 → 一二三一五; phone_digits 02887597294 → 零二八八七五九七二九四.
service_digits() { sed 'y/0123456789/零一二三四五六七八九/' <<<"$1"; }
phone_digits() { sed 'y/0123456789/零幺二三四五六七八九/' <<<"$1"; }

# speak NAME TEXT writes $out/NAME.wav.
speak() {
	local name=$1 text=$2
	# espeak marks words it reads in another language, e.g. (en)daU33w011n
	# for "dian" said in English: refuse them rather than ship them.
	if espeak-ng -v "$voice" -q -x "$text" | grep -q '(en)'; then
		echo "gen-prompts: $name: espeak-ng reads part of \"$text\" as English: $(espeak-ng -v "$voice" -q -x "$text")" >&2
		exit 1
	fi
	espeak-ng -v "$voice" -s "$speed" -w "$tmp/$name.raw.wav" "$text"
	# Resample first, then trim leading and trailing silence, pad 50 ms each
	# side, normalise: gain -n after the resampler, so nothing clips.
	sox -D "$tmp/$name.raw.wav" -r 8000 -c 1 -e u-law -b 8 "$out/$name.wav" \
		gain -6 rate -h silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0.05 0.05 gain -n -3
}

rm -f "$out"/*.wav
declare -A scripted=()
n=0
while IFS=$'\t' read -r name text; do
	[[ -z $name || $name == \#* ]] && continue
	speak "$name" "$text"
	scripted[$name]=1
	n=$((n + 1))
done <"$script"

# Lines: number,name,topic,queue,priority (names hold no commas).
while IFS=, read -r number lname _; do
	[[ $number == number ]] && continue
	[[ -n ${scripted[welcome-$number]:-} ]] && continue
	# The line's name with its digits as words and brackets as pauses.
	spoken=$(service_digits "$lname" | sed 's/（/，/g; s/）//g; s/(/，/g; s/)//g')
	if [[ $number == 0* ]]; then
		text="您拨打的$(phone_digits "$number")，${spoken}，已并入一二三四五政务服务热线。"
	elif [[ $spoken == "$(service_digits "$number")"* ]]; then
		text="您拨打的${spoken}，已并入一二三四五政务服务热线。"
	else
		text="您拨打的$(service_digits "$number")，${spoken}，已并入一二三四五政务服务热线。"
	fi
	speak "welcome-$number" "$text"
	n=$((n + 1))
done <"$hotlines"

# Hold music: C major pentatonic, quarter notes at 100 bpm over a soft drone
# of the chord's root, four phrases ending on the tonic.
# Frequencies in Hz.
declare -A hz=([G3]=196.00 [A3]=220.00 [C4]=261.63 [D4]=293.66 [E4]=329.63 [G4]=392.00 [A4]=440.00 [C5]=523.25 [D5]=587.33 [E5]=659.25)
melody=(E4 G4 A4 G4 E4 D4 C4 D4 E4 G4 E4 D4 C4 A3 C4 C4
	D4 E4 G4 A4 C5 A4 G4 E4 G4 A4 G4 E4 D4 C4 D4 C4
	E4 G4 A4 C5 D5 C5 A4 G4 A4 G4 E4 D4 E4 D4 C4 C4
	A3 C4 D4 E4 G4 E4 D4 C4 D4 E4 D4 C4 A3 G3 C4 C4)
beat=0.6
notes=()
i=0
for note in "${melody[@]}"; do
	f=$tmp/note-$i.wav
	sox -D -n -r 8000 -c 1 -b 16 "$f" synth "$beat" sine "${hz[$note]}" sine "$(awk "BEGIN{print ${hz[$note]}*2}")" \
		remix 1v0.8,2v0.15 fade q 0.04 "$beat" 0.3 vol 0.5
	notes+=("$f")
	i=$((i + 1))
done
sox -D "${notes[@]}" "$tmp/melody.wav"
len=$(soxi -D "$tmp/melody.wav")
sox -D -n -r 8000 -c 1 -b 16 "$tmp/drone.wav" synth "$len" sine 130.81 vol 0.12 tremolo 0.2 40
sox -D -m "$tmp/melody.wav" "$tmp/drone.wav" "$tmp/hold16.wav"
# Peak at -10 dBFS, not -3: sustained tones at -3 would sound far louder
# than the speech prompts (RMS about -22 dBFS).
sox -D "$tmp/hold16.wav" -e u-law -b 8 "$out/hold.wav" fade q 0.5 -0 0.8 gain -n -10
n=$((n + 1))

echo "gen-prompts: $n prompts in $out ($(du -ch "$out"/*.wav | tail -1 | cut -f1))"
