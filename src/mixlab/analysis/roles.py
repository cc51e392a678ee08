"""What each track is (kick, bass, lead vocal, ...): from its file name, else from its sound.

:func:`classify_role` asks the file name first (:func:`role_from_name`) and falls back to rules
on the track's features (:class:`~mixlab.analysis.track.TrackFeatures`). No trained model is
involved, so every guess comes with a reason a musician can check.

Names
-----
The name is cleaned (folders, the extension, leading numbers such as ``01_`` or ``03 - ``,
accents), split into words (also at ``camelCase`` and letter-digit boundaries: ``KickIn``,
``Kick1``) and matched word by word, so ``Bassoon`` is a woodwind and not a bass, and
``Kickstarter`` is nothing (a word is also recognised at the start of a longer one, ``Bassslap``
or ``Voxlead``, with less confidence, when no whole word matched: ``Kickstarter`` does then read
as a kick). Specific words win over vague ones (``Lead``, ``Synth``, ``Sub``,
``808``, ``Room``, ``Acoustic``): ``Lead Vox`` is a lead vocal, ``808 Kick`` a kick, ``Bass
Drum`` a kick. Between two specific words the rule order below decides (drums first, then
effects, vocals, brass and woodwind, bass, guitar, keys, pads, synth lead). English plus the
usual German, French, Spanish, Italian and Portuguese words are known.

Sound
-----
A few descriptors are taken from the features, over the frames where the track plays:

* energy fractions below 112 Hz (``low``, the 1/3-octave bands up to 100 Hz), below 224 Hz
  (``bass``), 224 Hz .. 4.5 kHz (``mid``) and above 4.5 kHz (``high``);
* ``sustain_db``: the median level of the 100 ms frames relative to the loudest frame within
  +-300 ms. Near 0 dB for held notes, -10 dB and below for hits that die away;
* spectral centroid, flatness (noise vs tone), onsets per second, stereo width.

Each role gets a score 0..1 from soft thresholds on these, and the best score wins:

* kick: hits, >= 60 % of the energy below 112 Hz, little above 4.5 kHz, not noisy;
* snare: hits, centroid between 600 Hz and 4 kHz, noisy (flatness >= 0.1), little sub-bass
  and at most ~30 % of the energy above 4.5 kHz;
* hats: centroid above ~5 kHz or most energy above 4.5 kHz, hitting or dense (>= 2 onsets/s);
* drums: hits with both low (>= 20 %) and high (>= 10 %) energy (a mixed kit);
* percussion: other hits (toms, wood blocks, congas);
* bass: held notes, >= 70 % of the energy below 224 Hz, fairly narrow stereo;
* pads: held, wide (width >= 0.3), few onsets (< 1.5/s);
* keys: decaying mid-range notes at 1.5-6 onsets/s (piano, e-piano);
* synth lead / lead vocal: a held, narrow, tonal mid-range line (centroid 0.7-3.5 kHz); a
  lead vocal needs some sibilance (>= 2 % of the energy above 4.5 kHz);
* fx: held noise (flatness >= 0.35) with few onsets (< 2/s), or anything that matches
  nothing well.

Limits: guitars, brass and woodwind, and backing vocals are recognised by name only (their
sound overlaps keys, synths and vocals too much for rules like these). A plucked synth bass
can read as a kick and a kick with a long boom as a bass; tuned percussion reads as keys;
reverb-drenched or heavily processed tracks can fall to fx. Audio guesses therefore carry
confidence of at most 0.7, and name guesses 0.5..0.95.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import scipy.ndimage

from mixlab.analysis.track import TrackFeatures

__all__ = ["ROLES", "ROLE_LABELS", "RoleGuess", "classify_role", "role_from_name"]

#: Every role a track can have.
ROLES: tuple[str, ...] = (
    "kick",
    "snare",
    "hats",
    "percussion",
    "drums",
    "bass",
    "lead_vocal",
    "backing_vocals",
    "guitar",
    "keys",
    "pads",
    "brass",
    "synth_lead",
    "fx",
)

#: What to call each role on screen.
ROLE_LABELS: dict[str, str] = {
    "kick": "Kick",
    "snare": "Snare",
    "hats": "Hats / cymbals",
    "percussion": "Toms / percussion",
    "drums": "Drum kit",
    "bass": "Bass",
    "lead_vocal": "Lead vocal",
    "backing_vocals": "Backing vocals",
    "guitar": "Guitar",
    "keys": "Piano / keys",
    "pads": "Pads / strings",
    "brass": "Brass / woodwind",
    "synth_lead": "Synth lead",
    "fx": "FX / other",
}


@dataclass(frozen=True)
class RoleGuess:
    """A guess at a track's role.

    Attributes
    ----------
    role : str
        One of :data:`ROLES`.
    confidence : float
        0..1.
    source : str
        ``"name"`` or ``"audio"``.
    reason : str
        One line for the user, e.g. ``file name says "Kick In"``.
    """

    role: str
    confidence: float
    source: str
    reason: str


# ---------------------------------------------------------------------------------------------
# names

_STRONG = 0.9
_WEAK = 0.6

# (role, confidence, phrases); a phrase is words separated by spaces. Order matters: the first
# rule with a matching phrase wins (within the strong rules, then within the weak ones).
_NAME_RULES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("bass", _STRONG, ("double bass", "upright bass", "contrabass", "contra bass", "string bass")),
    ("kick", _STRONG, (
        "kick in", "kick out", "kick sub", "kick", "kickin", "kickout", "kicksub", "kck", "kik", "bd",
        "bass drum", "bassdrum", "kickdrum", "bombo", "bumbo", "cassa", "grosse caisse",
    )),
    ("snare", _STRONG, (
        "snare top", "snare bottom", "snare", "snr", "sd", "snaretop", "snarebottom", "snarebtm", "rimshot",
        "rim", "clap", "handclap", "caja", "rullante", "caixa", "caisse claire",
    )),
    ("hats", _STRONG, (
        "hi hat", "hh", "hat", "hihat", "oh", "overhead", "ride", "crash", "cymbal", "china", "splash",
        "charleston", "becken", "platillo", "platillos", "cymbale", "piatti",
    )),
    ("percussion", _STRONG, (
        "floor tom", "rack tom", "tom", "ftom", "perc", "percussion", "percussions", "shaker", "conga",
        "bongo", "tamb", "tambourine", "tamborine", "pandeiro", "cowbell", "timbale", "timbales", "djembe",
        "cajon", "clave", "claves", "guiro", "triangle", "woodblock", "agogo", "cabasa", "maraca", "maracas",
        "timpani", "perkussion", "percusion", "wood",
    )),
    ("drums", _STRONG, (
        "drum kit", "drum", "drumkit", "drumloop", "drum loop", "kit", "breakbeat", "schlagzeug", "batterie",
        "bateria", "batteria",
    )),
    ("fx", _STRONG, (
        "sub drop", "fx", "sfx", "efx", "riser", "sweep", "noise", "impact", "uplifter", "downlifter", "whoosh",
        "swoosh", "reverse", "foley", "vinyl", "crackle", "transition", "effect", "effects", "ambience",
    )),
    ("backing_vocals", _STRONG, (
        "backing vocal", "backing vox", "bgv", "bv", "bvox", "bg vox", "bg vocal", "bkg", "backing", "backup",
        "harmony", "harmonies", "harm", "choir", "chor", "choeur", "coro", "cori", "adlib", "ad lib",
        "double", "dbl", "backingvox", "bgvox",
    )),
    ("lead_vocal", _STRONG, (
        "lead vocal", "lead vox", "vox lead", "main vocal", "main vox", "leadvox", "leadvocal", "vocal", "vox",
        "voc", "voice", "singer", "gesang", "stimme", "voix", "chant", "voz", "voce", "rap",
    )),
    ("brass", _STRONG, (
        "brass", "horn", "sax", "saxophone", "trumpet", "tpt", "trp", "trombone", "tbn", "tuba", "flute",
        "clarinet", "oboe", "bassoon", "woodwind", "piccolo", "cornet", "flugelhorn", "euphonium",
        "harmonica", "blaser", "blaeser", "cuivres", "metales", "fiati", "ottoni",
    )),
    ("bass", _STRONG, (
        "bass di", "bass amp", "synth bass", "sub bass", "bass", "bassline", "bassdi", "synthbass", "subbass",
        "basse", "bajo", "basso", "baixo",
    )),
    ("guitar", _STRONG, (
        "gtr", "guitar", "guit", "gitarre", "guitare", "guitarra", "chitarra", "violao", "banjo", "mandolin",
        "ukulele", "uke",
    )),
    ("keys", _STRONG, (
        "electric piano", "e piano", "piano", "pno", "keys", "key", "keyboard", "rhodes", "wurli",
        "wurlitzer", "organ", "hammond", "b3", "clav", "clavinet", "ep", "epiano", "klavier", "harpsichord",
        "cembalo", "celesta", "marimba", "vibes", "vibraphone", "xylophone", "glock", "glockenspiel",
        "orgel", "orgue", "mallet",
    )),
    ("pads", _STRONG, (
        "pad", "strings", "string", "violin", "vln", "viola", "cello", "celli", "orchestra", "orch",
        "ensemble", "streicher", "cordes", "cuerdas", "archi", "atmosphere", "atmos", "ambient", "drone",
        "texture", "swell",
    )),
    ("synth_lead", _STRONG, ("synth lead", "lead synth")),
    # vague words, used only when nothing specific is named
    ("bass", _WEAK, ("sub", "808")),
    ("drums", _WEAK, ("room", "break", "beat")),
    ("guitar", _WEAK, ("acoustic", "electric", "strat")),
    ("synth_lead", _WEAK, ("lead", "arp", "arpeggio", "pluck", "melody", "hook")),
    ("pads", _WEAK, ("str",)),
    ("synth_lead", 0.5, ("synth", "saw", "sequence", "seq")),
)  # fmt: skip

_AUDIO_EXTENSIONS = re.compile(r"\.(wav|wave|aif|aiff|aifc|flac|mp3|ogg|oga|opus|m4a|aac|wma|caf|w64|rf64)$", re.I)
_TRANSLITERATE = str.maketrans({"œ": "oe", "Œ": "Oe", "æ": "ae", "Æ": "Ae", "ß": "ss", "ø": "o", "Ø": "O"})


def _words(name: str) -> list[str]:
    """The words of a track or file name, case kept, numbering and extension removed."""
    base = re.split(r"[\\/]", name)[-1]
    base = _AUDIO_EXTENSIONS.sub("", base)
    base = unicodedata.normalize("NFKD", base.translate(_TRANSLITERATE))
    base = "".join(c for c in base if not unicodedata.combining(c))
    base = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z]{2})", " ", base)  # camelCase, EPiano (not BVs)
    base = re.sub(r"(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])", " ", base)  # Kick1, 808Kick
    words = re.findall(r"[A-Za-z0-9]+", base)
    while len(words) > 1 and words[0].isdigit():  # "01_Kick", "03 - Bass" (but "808" stays)
        words.pop(0)
    return words


def _token_matches(token: str, word: str) -> bool:
    return token == word or token == word + "s" or token == word + "es"


def _find(tokens: list[str], phrase: tuple[str, ...]) -> int:
    """Start of the first occurrence of ``phrase`` in ``tokens``, or -1."""
    n = len(phrase)
    for i in range(len(tokens) - n + 1):
        if all(_token_matches(tokens[i + j], phrase[j]) for j in range(n)):
            return i
    return -1


_COMPILED_RULES = tuple((role, conf, tuple(tuple(p.split()) for p in phrases)) for role, conf, phrases in _NAME_RULES)


#: Words also recognised at the start of a longer word ("bassslap", "kicks2", "voxlead"),
#: when no whole word matched.
_PREFIX_MIN_LENGTH = 4
_PREFIX_PENALTY = 0.15


def role_from_name(name: str) -> RoleGuess | None:
    """The role a track or file name states, or None if it states none.

    Parameters
    ----------
    name : str
        Track name or file name (a path is fine: only its last part is read).

    Returns
    -------
    RoleGuess or None
        ``source="name"``; the reason quotes the words that decided.

    Examples
    --------
    >>> role_from_name("03 - Kick In.wav").role
    'kick'
    >>> role_from_name("Bassoon").role
    'brass'
    >>> role_from_name("Audio 07") is None
    True
    """
    words = _words(str(name))
    tokens = [w.lower() for w in words]
    if not tokens:
        return None
    for role, confidence, phrases in _COMPILED_RULES:
        for phrase in phrases:
            i = _find(tokens, phrase)
            if i >= 0:
                said = " ".join(words[i : i + len(phrase)])
                return RoleGuess(role, confidence, "name", f'file name says "{said}"')
    for role, confidence, phrases in _COMPILED_RULES:
        if confidence < _STRONG:
            continue
        for phrase in phrases:
            if len(phrase) > 1 or len(phrase[0]) < _PREFIX_MIN_LENGTH:
                continue
            for word, token in zip(words, tokens):
                if token.startswith(phrase[0]):
                    return RoleGuess(role, confidence - _PREFIX_PENALTY, "name", f'file name says "{word}"')
    return None


# ---------------------------------------------------------------------------------------------
# sound

_AUDIO_MAX_CONFIDENCE = 0.7
_MIN_SCORE = 0.25


def _ramp(x: float, zero_at: float, one_at: float) -> float:
    """0 at ``zero_at``, 1 at ``one_at``, linear between (either direction), clipped."""
    if zero_at == one_at:
        return float(x >= one_at)
    return float(np.clip((x - zero_at) / (one_at - zero_at), 0.0, 1.0))


@dataclass(frozen=True)
class _Descriptors:
    low: float  # energy fraction below 112 Hz
    bass: float  # below 224 Hz
    mid: float  # 224 Hz .. 4.5 kHz
    high: float  # above 4.5 kHz
    centroid_hz: float
    flatness: float
    density_per_s: float
    width: float
    sustain_db: float


def _descriptors(f: TrackFeatures) -> _Descriptors:
    energy = f.active_band_energy()
    total = float(energy.sum())
    centres = np.asarray(f.band_centres_hz)

    def share(mask: np.ndarray) -> float:
        return float(energy[mask].sum()) / total if total > 0 else 0.0

    frame = np.asarray(f.band_energy, dtype=np.float64).sum(axis=1)
    sustain = 0.0
    if frame.size and frame.max() > 0:
        level = 10.0 * np.log10(np.maximum(frame, frame.max() * 1e-6))  # floor 60 dB down
        half = int(round(0.3 / f.frame_s))
        local = scipy.ndimage.maximum_filter1d(level, 2 * half + 1, mode="nearest")
        rows = f.active if f.active.any() else np.ones(frame.size, dtype=bool)
        sustain = float(np.median((level - local)[rows]))
    return _Descriptors(
        low=share(centres <= 100.0),
        bass=share(centres <= 200.0),
        mid=share((centres > 200.0) & (centres < 5000.0)),
        high=share(centres >= 5000.0),
        centroid_hz=float(f.centroid_hz),
        flatness=float(f.flatness),
        density_per_s=float(f.transient_density_per_s),
        width=float(f.stereo_width),
        sustain_db=sustain,
    )


def _khz(freq_hz: float) -> str:
    return f"{freq_hz / 1000:.1f} kHz" if freq_hz >= 1000 else f"{freq_hz:.0f} Hz"


def _audio_scores(d: _Descriptors) -> dict[str, tuple[float, str]]:
    """Score 0..1 and reason of each role the sound can suggest."""
    hits = _ramp(d.sustain_db, -4.0, -10.0)  # 1 for hits that die away, 0 for held notes
    held = 1.0 - hits
    noisy = _ramp(d.flatness, 0.05, 0.15)
    tonal = 1.0 - _ramp(d.flatness, 0.2, 0.35)
    bright = max(_ramp(d.high, 0.3, 0.5), _ramp(d.centroid_hz, 4000.0, 6000.0))
    rate = f"{d.density_per_s:.1f} onsets/s"
    scores = {
        "kick": (
            hits * _ramp(d.low, 0.3, 0.5) * _ramp(d.high, 0.1, 0.03) * tonal * _ramp(d.centroid_hz, 500.0, 250.0),
            f"short low-frequency hits ({d.low:.0%} of the energy below 110 Hz, centroid {_khz(d.centroid_hz)}, {rate})",
        ),
        "snare": (
            hits * noisy * _ramp(d.centroid_hz, 400.0, 700.0) * _ramp(d.centroid_hz, 5000.0, 4000.0)
            * _ramp(d.low, 0.5, 0.3) * _ramp(d.high, 0.5, 0.3),
            f"short noisy mid-range hits (centroid {_khz(d.centroid_hz)}, {rate})",
        ),
        "hats": (
            bright * max(hits, _ramp(d.density_per_s, 1.0, 2.0)) * max(noisy, _ramp(d.centroid_hz, 5000.0, 7000.0)),
            f"bright short hits (centroid {_khz(d.centroid_hz)}, {d.high:.0%} of the energy above 4.5 kHz, {rate})",
        ),
        "drums": (
            hits * _ramp(d.low, 0.1, 0.2) * _ramp(d.high, 0.05, 0.1),
            f"hits with both low and high energy, like a whole kit ({d.low:.0%} below 110 Hz, "
            f"{d.high:.0%} above 4.5 kHz)",
        ),
        "percussion": (
            0.6 * hits * (1.0 - bright),
            f"short hits (centroid {_khz(d.centroid_hz)}, {rate})",
        ),
        "bass": (
            (0.5 + 0.5 * held) * _ramp(d.bass, 0.35, 0.55) * _ramp(d.width, 0.45, 0.25) * tonal,
            f"low notes ({d.bass:.0%} of the energy below 220 Hz)",
        ),
        "pads": (
            (0.6 + 0.4 * held) * _ramp(d.width, 0.2, 0.3) * _ramp(d.density_per_s, 2.0, 1.0) * tonal,
            f"held, wide sound (stereo width {d.width:.2f}, {rate})",
        ),
        "keys": (
            0.55 * _ramp(d.sustain_db, -1.0, -3.0) * _ramp(d.sustain_db, -12.0, -8.0)
            * _ramp(d.density_per_s, 1.0, 2.0) * _ramp(d.density_per_s, 8.0, 6.0)
            * _ramp(d.centroid_hz, 250.0, 400.0) * _ramp(d.centroid_hz, 3000.0, 2000.0) * tonal
            * _ramp(d.bass, 0.6, 0.4),
            f"mid-range notes that die away ({rate}, centroid {_khz(d.centroid_hz)})",
        ),
        "synth_lead": (
            0.45 * held * _ramp(d.centroid_hz, 400.0, 700.0) * _ramp(d.centroid_hz, 5000.0, 3500.0)
            * _ramp(d.width, 0.35, 0.2) * tonal
            * _ramp(d.bass, 0.5, 0.3) * _ramp(d.high, 0.05, 0.02),
            f"a held, tonal mid-range line (centroid {_khz(d.centroid_hz)})",
        ),
        "lead_vocal": (
            0.5 * held * _ramp(d.centroid_hz, 500.0, 900.0) * _ramp(d.centroid_hz, 4000.0, 3000.0)
            * _ramp(d.width, 0.2, 0.1) * tonal
            * _ramp(d.bass, 0.4, 0.2) * _ramp(d.high, 0.01, 0.03),
            f"a held, mono, tonal mid-range line with some sibilance (centroid {_khz(d.centroid_hz)})",
        ),
        "fx": (
            max(held * _ramp(d.flatness, 0.3, 0.45) * _ramp(d.density_per_s, 3.0, 1.5), _MIN_SCORE),
            f"noise-like held sound (flatness {d.flatness:.2f})"
            if d.flatness >= 0.3
            else "no clear instrument pattern in the sound",
        ),
    }
    return scores


def _role_from_audio(features: TrackFeatures) -> RoleGuess:
    if features.silent:
        return RoleGuess("fx", 0.0, "audio", "the track is silent")
    d = _descriptors(features)
    scores = _audio_scores(d)
    role = max(scores, key=lambda r: scores[r][0])
    score, reason = scores[role]
    return RoleGuess(role, round(min(score, 1.0) * _AUDIO_MAX_CONFIDENCE, 3), "audio", reason)


def classify_role(features: TrackFeatures, name: str | None = None) -> RoleGuess:
    """A track's role: from its name when the name says one, else from its sound.

    Parameters
    ----------
    features : TrackFeatures
        The track's analysis.
    name : str, optional
        Track or file name.

    Returns
    -------
    RoleGuess
        ``source="name"`` or ``"audio"``; a silent track is ``fx`` with confidence 0 (unless its
        name says otherwise).
    """
    if name:
        guess = role_from_name(name)
        if guess is not None:
            return guess
    return _role_from_audio(features)
