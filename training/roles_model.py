"""Learned role classifier from audio (issue 12, item 3): features, grouped cross-validation,
the shipped model, and its evaluation on the LMMS bench songs.

    python training/roles_model.py features   # per-stem features of the corpus and bench songs (cached)
    python training/roles_model.py train      # fit the chosen model on the whole corpus -> training/models/roles.json
    python training/roles_model.py eval       # grouped CV of the learners, shipped model on the bench songs, rules

``train`` and ``eval`` run ``features`` first when the cache is missing or stale. Everything
is seeded (:data:`SEED`). The shipped model is a JSON file that :class:`RoleModel` reads and
evaluates with NumPy only; scikit-learn and LightGBM are only used for the comparison.

Training material: ``training/corpus/stems.csv`` (every stem of the corpus built by
``build_corpus.py``); folds by its ``group`` column (the mma style or the music21 piece), so a
song never sits on both sides of a split. The six LMMS bench songs (``bench/songs/stems/<id>/``)
are evaluation only, with labels from :data:`BENCH_LABELS` (written by hand from the stem and
mixer-channel names). The reserved songs of issue 12 are never read: :func:`_refuse_reserved`
checks every path.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from build_corpus import refuse_reserved  # noqa: E402
from roles_features import FEATURE_NAMES, FEATURE_VERSION, song_context, stem_features  # noqa: E402

CORPUS = HERE / "corpus"
BENCH = ROOT / "bench" / "songs" / "stems"
CACHE = HERE / "cache"
MODELS = HERE / "models"
SEED = 0

#: Roles in the order of the model's outputs (mixlab's ROLES; those the corpus lacks are never
#: predicted).
ALL_ROLES = (
    "kick", "snare", "hats", "percussion", "drums", "bass", "lead_vocal", "backing_vocals",
    "guitar", "keys", "pads", "brass", "synth_lead", "fx",
)  # fmt: skip

#: Bench stems' roles, by hand from the stem file name and its LMMS mixer channel
#: (``stems_manifest.json``); ``None``: excluded (the name does not say a role we can trust).
BENCH_LABELS: dict[str, dict[str, str | None]] = {
    "axe-from-the-80s": {
        "01-Sequence2.wav": None,  # a ZynAddSubFX preset "Sequence2": role unknown
        "02-alien_curiousity.wav": "fx",
        "03-hollow.wav": None,  # a drumsynth sample "hollow": unknown
        "04-ufo_buzz.wav": "fx",
        "05-tom_low01.wav": "percussion",
        "06-tom_mid01.wav": "percussion",
        "07-tom_hi01.wav": "percussion",
        "08-snare_acoustic01.wav": "snare",
        "09-kick_hard01.wav": "kick",
        "10-hihat_closed01.wav": "hats",
        "11-hihat_opened01.wav": "hats",
        "12-Trash-Synth-1.wav": None,  # "Trash Synth 1": unknown
        "13-bassslap01.wav": "bass",
    },
    "cpu": {
        "01-Bass-tripleoscillator.wav": "bass",
        "02-Bass-sid.wav": "bass",
        "03-LB-302-lb302.wav": "bass",  # LMMS's TB-303 clone, a bass synth
        "04-kick04.wav": "kick",
        "05-shaker01.wav": "percussion",
        "06-ride02.wav": "hats",
        "07-hihat_closed02.wav": "hats",
        "08-clap03.wav": "snare",
        "09-crash02.wav": "hats",
        "10-snare06.wav": "snare",
        "11-FX-01-tripleoscillator.wav": "fx",
        "12-Voice-01-Vocal-Morph-4.wav": None,  # a synth vowel patch, not a voice: unknown
        "13-Voice-02-Vocal-Morph-5.wav": None,
        "14-Strings-Organ-and-Saw.wav": "pads",
        "15-Noise-tripleoscillator.wav": "fx",
        "16-FX-02-tripleoscillator.wav": "fx",
        "17-Arpeggio.wav": "synth_lead",
    },
    "dear-jon-doe": {
        "01-latin_guitar03.wav": "guitar",
        "02-steel_guitar01.wav": "guitar",
        "03-kick02.wav": "kick",
        "04-kick_soft02.wav": "kick",
        "05-kick02.wav": "kick",
        "06-crash02.wav": "hats",
        "07-sidestick01.wav": "snare",
        "08-snare07.wav": "snare",
        "09-hihat_closed01.wav": "hats",
    },
    "mauiwowi": {
        "01-pad-Synth-Pad3.wav": "pads",
        "02-bass-zynaddsubfx.wav": "bass",
        "03-guitar.wav": "guitar",
        "04-horns-Strings-Pad2.wav": None,  # channel "horns", preset "Strings Pad2": they disagree
        "05-hihat_closed05.wav": "hats",
        "06-hollow_wood_2.wav": "percussion",
        "07-snare01.wav": "snare",
        "08-bassdrum_acoustic01.wav": "kick",
        "09-crash01.wav": "hats",
        "11-saw-Soft-Saw-Pad.wav": "pads",
        "12-Ride3.wav": "hats",
        "13-snare_muffled02.wav": "snare",
        "14-kick.wav": "kick",
        "15-wood.wav": "percussion",
        "16-wood2.wav": "percussion",
    },
    "twilight-area": {
        "01-Kick-BD-A.wav": "kick",
        "02-Kick-BD-3.wav": "kick",
        "03-Snare.wav": "snare",
        "04-HiHat.wav": "hats",
        "05-Shaker.wav": "percussion",
        "06-Dirt-Bass.wav": "bass",
        "07-Bass.wav": "bass",
        "08-Ioioioioi.wav": None,  # "Ioioioioi": unknown
        "09-Flanged-Pad.wav": "pads",
        "10-Arp-Funky.wav": "synth_lead",
        "11-P-Synth.wav": None,  # "P-Synth": unknown
        "12-FM-Rhodes.wav": "keys",
        "13-FM-Rhodes.wav": "keys",
        "14-Soft-Saw-Pad.wav": "pads",
        "15-Organ.wav": "keys",
    },
    "zero-sum-game": {
        "01-Kick.wav": "kick",
        "02-U-don-t-know---Snare.wav": "snare",
        "03-Handclap.wav": "snare",
        "04-Little-C-HiHat.wav": "hats",
        "05-Loaded-O-HiHat.wav": "hats",
        "06-Snare-I.wav": "snare",
        "07-Cymbal-Crash.wav": "hats",
        "08-slow-attack-synth.wav": None,  # "slow attack synth": unknown
        "09-dub-bass.wav": "bass",
        "10-sub.wav": "bass",
        "11-gated-sub.wav": "bass",
        "12-strings.wav": "pads",
        "13-strings-top.wav": "pads",
        "14-sweep.wav": "fx",
    },
}


# ---------------------------------------------------------------------------------------------
# features (cached per song)


def _refuse_reserved(*names: str) -> None:
    for n in names:
        refuse_reserved(str(n))


def _rule_role(x: np.ndarray, sr: int) -> str:
    """Today's mixlab guess from audio with a neutral name, and its runner-up: "role|second"
    (the runner-up from the same rule scores, read-only use of mixlab's private helpers)."""
    from mixlab.analysis.roles import _audio_scores, _descriptors, classify_role
    from mixlab.analysis.track import analyze_track

    a = np.ascontiguousarray(x.T, dtype=np.float32)
    f = analyze_track([a], sr, a.shape[0])
    first = classify_role(f, "Track 01").role
    if f.silent:
        return f"{first}|{first}"
    scores = _audio_scores(_descriptors(f))
    ranked = sorted(scores, key=lambda r: -scores[r][0])
    second = next(r for r in ranked if r != first)
    return f"{first}|{second}"


def _song_rows(song_dir: Path, stems: list[tuple[str, str | None]], meta: dict, aug: int = 0) -> dict:
    """Features of every stem of one song (``stems``: file name and role)."""
    _refuse_reserved(song_dir, meta.get("song_id", ""))
    mix, sr = sf.read(song_dir / "mix.wav", dtype="float32", always_2d=True)
    t0 = time.perf_counter()
    ctx = song_context(mix, sr)
    t_ctx = time.perf_counter() - t0
    del mix
    rows = []
    for name, role in stems:
        x, sr = sf.read(song_dir / name, dtype="float32", always_2d=True)
        if aug:
            x = augment(x, sr, np.random.default_rng([SEED, aug, *(ord(c) for c in f"{meta['song_id']}/{name}")]))
        t0 = time.perf_counter()
        v = stem_features(x, sr, ctx)
        t_feat = time.perf_counter() - t0
        rule = _rule_role(x, sr) if not aug else ""
        rows.append(
            {"file": name, "role": role or "", "rule": rule, "x": v, "seconds": x.shape[0] / sr, "feature_s": t_feat}
        )
    return {"context": [ctx.bpm, ctx.confidence, ctx.phase_hops, ctx.downbeat], "context_s": t_ctx, "rows": rows, **meta}


def augment(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A randomly coloured copy of a ``(n, ch)`` stem, as a different production would give:
    tilt EQ (+-3 dB/octave about 1 kHz), band limits (low cut 30..150 Hz, high cut 4..16 kHz),
    saturation (tanh, 3..12 dB drive), a synthetic room (exponentially decaying noise, RT60
    0.3..2 s, 10..35 % wet) and stereo changes (mono, or width x0.3..x2). Each with its own
    probability; the choices come from ``rng``."""
    import scipy.fft
    import scipy.signal

    y = np.asarray(x, dtype=np.float64)
    n = y.shape[0]
    nfft = scipy.fft.next_fast_len(n, real=True)
    spec = scipy.fft.rfft(y, n=nfft, axis=0)
    f = np.maximum(np.fft.rfftfreq(nfft, 1.0 / sr), 1.0)
    gain_db = rng.uniform(-3.0, 3.0) * np.log2(f / 1000.0)
    if rng.random() < 0.3:
        gain_db += -10.0 * np.log10(1.0 + (rng.uniform(30.0, 150.0) / f) ** 4)  # 2nd-order-like low cut
    if rng.random() < 0.3:
        gain_db += -10.0 * np.log10(1.0 + (f / rng.uniform(4000.0, 16000.0)) ** 8)
    y = scipy.fft.irfft(spec * (10.0 ** (np.clip(gain_db, -60.0, 18.0) / 20.0))[:, None], n=nfft, axis=0)[:n]
    if rng.random() < 0.3:
        drive = 10.0 ** (rng.uniform(3.0, 12.0) / 20.0)
        peak = max(float(np.abs(y).max()), 1e-9)
        y = np.tanh(y / peak * drive) * peak / drive
    if rng.random() < 0.4:
        rt60 = rng.uniform(0.3, 2.0)
        m = int(rt60 * sr)
        t = np.arange(m) / sr
        ir = rng.standard_normal((m, y.shape[1])) * np.exp(-6.91 * t / rt60)[:, None]
        ir /= np.sqrt((ir**2).sum(axis=0, keepdims=True))
        wet = scipy.signal.oaconvolve(y, ir, axes=0)[:n]
        mix = rng.uniform(0.1, 0.35)
        y = (1 - mix) * y + mix * wet * np.sqrt((y**2).sum() / max((wet**2).sum(), 1e-12))
    if y.shape[1] == 2:
        u = rng.random()
        m_, s_ = 0.5 * (y[:, 0] + y[:, 1]), 0.5 * (y[:, 0] - y[:, 1])
        if u < 0.2:
            s_ = 0.0 * s_
        elif u < 0.5:
            s_ = s_ * rng.uniform(0.3, 2.0)
        y = np.stack([m_ + s_, m_ - s_], axis=1)
    return y.astype(np.float32)


def _cache_path(kind: str, song_id: str) -> Path:
    return CACHE / f"v{FEATURE_VERSION}" / kind / f"{song_id}.json"


def _save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = dict(data)
    out["rows"] = [{**r, "x": [float(v) for v in r["x"]]} for r in data["rows"]]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out))
    tmp.replace(path)


def corpus_songs() -> dict[str, dict]:
    """Song id -> group, source, genre, song dir and its stems (file, role), from stems.csv."""
    songs: dict[str, dict] = {}
    with open(CORPUS / "stems.csv", newline="") as f:
        for r in csv.DictReader(f):
            path = CORPUS / r["path"]
            s = songs.setdefault(
                r["song_id"],
                {"song_id": r["song_id"], "group": r["group"], "source": r["source"], "genre": r["genre"],
                 "dir": str(path.parent), "stems": []},
            )  # fmt: skip
            s["stems"].append((path.name, r["role"]))
    return songs


def build_features(verbose: bool = True, augmented: int = 0) -> None:
    """Compute the features of every corpus and bench stem that is not cached yet, and of
    ``augmented`` coloured copies of every corpus stem (:func:`augment`; kinds
    ``corpus_aug1``, ...)."""
    todo = []
    for sid, s in corpus_songs().items():
        todo.append(("corpus", sid, Path(s["dir"]), s["stems"], {k: s[k] for k in ("song_id", "group", "source", "genre")}))
    for a in range(1, augmented + 1):
        for sid, s in corpus_songs().items():
            meta = {k: s[k] for k in ("song_id", "group", "source", "genre")}
            todo.append((f"corpus_aug{a}", sid, Path(s["dir"]), s["stems"], meta))
    for sid, labels in BENCH_LABELS.items():
        stems = [(n, r) for n, r in labels.items()]
        todo.append(("bench", sid, BENCH / sid, stems, {"song_id": sid, "group": sid, "source": "lmms", "genre": ""}))
    t_all = time.perf_counter()
    for i, (kind, sid, d, stems, meta) in enumerate(todo):
        path = _cache_path(kind, sid)
        if path.exists():
            continue
        t0 = time.perf_counter()
        aug = int(kind.split("aug")[1]) if "aug" in kind else 0
        data = _song_rows(d, stems, meta, aug)
        _save(path, data)
        if verbose:
            print(f"[{i + 1}/{len(todo)}] {kind} {sid}: {len(stems)} stems in {time.perf_counter() - t0:.1f} s", flush=True)
    if verbose:
        print(f"features done in {time.perf_counter() - t_all:.0f} s")


def load_features(kind: str) -> dict:
    """Stacked features of ``kind`` ("corpus" or "bench"): X, role, rule, song, group, ..."""
    folder = CACHE / f"v{FEATURE_VERSION}" / kind
    X, role, rule, song, group, source, fname, secs, fs = [], [], [], [], [], [], [], [], []
    for p in sorted(folder.glob("*.json")):
        d = json.loads(p.read_text())
        for r in d["rows"]:
            X.append(r["x"])
            role.append(r["role"])
            rule.append(r["rule"])
            song.append(d["song_id"])
            group.append(d["group"])
            source.append(d["source"])
            fname.append(r["file"])
            secs.append(r["seconds"])
            fs.append(r["feature_s"])
    return {
        "X": np.asarray(X, dtype=np.float64).reshape(-1, len(FEATURE_NAMES)),
        "role": np.asarray(role),
        "rule": np.asarray(rule),
        "song": np.asarray(song),
        "group": np.asarray(group),
        "source": np.asarray(source),
        "file": np.asarray(fname),
        "seconds": np.asarray(secs),
        "feature_s": np.asarray(fs),
    }


# ---------------------------------------------------------------------------------------------
# learners (NumPy ones ship; the others are compared only)


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[std < 1e-9] = 1.0
    return mean, std


def _class_weights(y: np.ndarray, k: int) -> np.ndarray:
    counts = np.bincount(y, minlength=k).astype(np.float64)
    w = np.where(counts > 0, len(y) / (k * np.maximum(counts, 1)), 0.0)
    return w[y]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class NumpyLogistic:
    """Multinomial logistic regression, L2, balanced class weights, fitted by L-BFGS."""

    kind = "logistic"

    def __init__(self, l2: float = 1e-2, seed: int = SEED) -> None:
        self.l2 = l2
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray, k: int) -> NumpyLogistic:
        import scipy.optimize

        self.mean, self.std = _standardise(X)
        Z = (X - self.mean) / self.std
        n, d = Z.shape
        sw = _class_weights(y, k)
        Y = np.eye(k)[y]

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            W = w[: d * k].reshape(d, k)
            b = w[d * k :]
            P = _softmax(Z @ W + b)
            ll = -np.sum(sw * np.log(np.maximum((P * Y).sum(axis=1), 1e-12))) / n
            G = (P - Y) * sw[:, None] / n
            gW = Z.T @ G + self.l2 * W
            return ll + 0.5 * self.l2 * float(np.sum(W * W)), np.r_[gW.ravel(), G.sum(axis=0)]

        w0 = np.zeros(d * k + k)
        res = scipy.optimize.minimize(loss, w0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
        self.W = res.x[: d * k].reshape(d, k)
        self.b = res.x[d * k :]
        return self

    def proba(self, X: np.ndarray) -> np.ndarray:
        return _softmax(((X - self.mean) / self.std) @ self.W + self.b)

    def export(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "layers": [[self.W.tolist(), self.b.tolist()]]}


class NumpyMLP:
    """One hidden ReLU layer, softmax output, L2, balanced class weights, Adam on full batches;
    ``members`` such networks from different seeds averaged."""

    kind = "mlp"

    def __init__(self, hidden: int = 64, l2: float = 3e-3, epochs: int = 400, lr: float = 5e-3,
                 members: int = 3, dropout: float = 0.2, seed: int = SEED) -> None:  # fmt: skip
        self.hidden, self.l2, self.epochs, self.lr = hidden, l2, epochs, lr
        self.members, self.dropout, self.seed = members, dropout, seed

    def fit(self, X: np.ndarray, y: np.ndarray, k: int) -> NumpyMLP:
        self.mean, self.std = _standardise(X)
        Z = (X - self.mean) / self.std
        n, d = Z.shape
        sw = _class_weights(y, k)[:, None] / n
        Y = np.eye(k)[y]
        self.nets = []
        for m in range(self.members):
            rng = np.random.default_rng(self.seed * 1000 + m)
            params = [
                rng.normal(0, np.sqrt(2.0 / d), (d, self.hidden)), np.zeros(self.hidden),
                rng.normal(0, np.sqrt(1.0 / self.hidden), (self.hidden, k)), np.zeros(k),
            ]  # fmt: skip
            mom = [np.zeros_like(p) for p in params]
            vel = [np.zeros_like(p) for p in params]
            for t in range(1, self.epochs + 1):
                W1, b1, W2, b2 = params
                Zin = Z + rng.normal(0, 0.1, Z.shape)  # a little input noise
                H = np.maximum(Zin @ W1 + b1, 0.0)
                mask = (rng.random(H.shape) >= self.dropout) / (1.0 - self.dropout)
                Hd = H * mask
                P = _softmax(Hd @ W2 + b2)
                G = (P - Y) * sw
                gW2 = Hd.T @ G + self.l2 * W2
                gb2 = G.sum(axis=0)
                GH = (G @ W2.T) * mask * (H > 0)
                gW1 = Zin.T @ GH + self.l2 * W1
                gb1 = GH.sum(axis=0)
                for i, g in enumerate((gW1, gb1, gW2, gb2)):
                    mom[i] = 0.9 * mom[i] + 0.1 * g
                    vel[i] = 0.999 * vel[i] + 0.001 * g * g
                    params[i] = params[i] - self.lr * (mom[i] / (1 - 0.9**t)) / (np.sqrt(vel[i] / (1 - 0.999**t)) + 1e-8)
            self.nets.append(params)
        return self

    def proba(self, X: np.ndarray) -> np.ndarray:
        Z = (X - self.mean) / self.std
        out = 0.0
        for W1, b1, W2, b2 in self.nets:
            out = out + _softmax(np.maximum(Z @ W1 + b1, 0.0) @ W2 + b2)
        return out / len(self.nets)

    def export(self) -> dict:
        return {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "members": [[[W1.tolist(), b1.tolist()], [W2.tolist(), b2.tolist()]] for W1, b1, W2, b2 in self.nets],
        }


class SklearnModel:
    """A scikit-learn or LightGBM classifier (comparison only: not shipped)."""

    def __init__(self, name: str) -> None:
        self.kind = name

    def fit(self, X: np.ndarray, y: np.ndarray, k: int) -> SklearnModel:
        from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.k = k
        if self.kind == "sk_logistic":
            m = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced"))
        elif self.kind == "random_forest":
            m = RandomForestClassifier(n_estimators=300, min_samples_leaf=1, class_weight="balanced_subsample",
                                       random_state=SEED, n_jobs=1)  # fmt: skip
        elif self.kind == "extra_trees":
            m = ExtraTreesClassifier(n_estimators=300, class_weight="balanced", random_state=SEED, n_jobs=1)
        elif self.kind == "hist_gb":
            m = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, max_leaf_nodes=15,
                                               class_weight="balanced", random_state=SEED)  # fmt: skip
        elif self.kind == "lightgbm":
            import lightgbm

            m = lightgbm.LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=5,
                                        subsample=0.8, subsample_freq=1, colsample_bytree=0.5,
                                        class_weight="balanced", random_state=SEED, n_jobs=1, verbose=-1)  # fmt: skip
        else:
            raise ValueError(self.kind)
        m.fit(X, y)
        self.model = m
        return self

    def proba(self, X: np.ndarray) -> np.ndarray:
        p = self.model.predict_proba(X)
        out = np.zeros((X.shape[0], self.k))
        out[:, self.model.classes_] = p
        return out


LEARNERS = {
    "logistic": lambda: NumpyLogistic(),
    "mlp": lambda: NumpyMLP(),
    "sk_logistic": lambda: SklearnModel("sk_logistic"),
    "random_forest": lambda: SklearnModel("random_forest"),
    "extra_trees": lambda: SklearnModel("extra_trees"),
    "hist_gb": lambda: SklearnModel("hist_gb"),
    "lightgbm": lambda: SklearnModel("lightgbm"),
}
#: The learner that ships (chosen by grouped-CV accuracy and size; see README).
SHIPPED = "mlp"
#: Augmented copies of the corpus stems (:func:`augment`) the shipped model trains on, besides
#: the stems: none, since they cost 1.2 points of grouped-CV top-1 (see README). ``eval``
#: compares them whenever they are cached (``features --augmented 1``).
AUGMENTED = 0


# ---------------------------------------------------------------------------------------------
# the shipped model: JSON, evaluated with NumPy only


class RoleModel:
    """The shipped classifier: ``RoleModel.load(path).predict(features)`` -> per-role
    probabilities. NumPy only."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.roles = tuple(data["roles"])
        self.mean = np.asarray(data["mean"])
        self.std = np.asarray(data["std"])
        if data["kind"] == "logistic":
            self.members = [[(np.asarray(W), np.asarray(b)) for W, b in data["layers"]]]
        else:
            self.members = [[(np.asarray(W), np.asarray(b)) for W, b in m] for m in data["members"]]

    @classmethod
    def load(cls, path: str | Path) -> RoleModel:
        return cls(json.loads(Path(path).read_text()))

    def proba(self, X: np.ndarray) -> np.ndarray:
        Z = (np.atleast_2d(np.asarray(X, dtype=np.float64)) - self.mean) / self.std
        out = 0.0
        for layers in self.members:
            h = Z
            for i, (W, b) in enumerate(layers):
                h = h @ W + b
                if i < len(layers) - 1:
                    h = np.maximum(h, 0.0)
            out = out + _softmax(h)
        return out / len(self.members)


def _encode(roles: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    index = {r: i for i, r in enumerate(classes)}
    return np.array([index.get(r, -1) for r in roles])


def train_model(learner: str = SHIPPED, path: Path | None = None, augmented: int = AUGMENTED) -> Path:
    """Fit ``learner`` on every corpus stem (and ``augmented`` cached coloured copies of each)
    and write the JSON model."""
    data = load_features("corpus")
    classes = tuple(r for r in ALL_ROLES if r in set(data["role"]))
    y = _encode(data["role"], classes)
    X = data["X"]
    aug = load_augmented(classes, augmented) if augmented else None
    if aug is not None:
        X, y = np.r_[X, aug["X"]], np.r_[y, aug["y"]]
    t0 = time.perf_counter()
    model = LEARNERS[learner]().fit(X, y, len(classes))
    fit_s = time.perf_counter() - t0
    out = {
        "schema": "mixlab.roles_model/1",
        "kind": model.kind,
        "feature_version": FEATURE_VERSION,
        "features": list(FEATURE_NAMES),
        "roles": list(classes),
        "trained_on": f"training/corpus: {len(set(data['song']))} songs, {len(data['role'])} "
        f"stems" + (f", plus {len(aug['y'])} augmented copies ({', '.join(aug['kinds'])})" if aug is not None else ""),
        "seed": SEED,
        **model.export(),
    }
    print(f"fitted {learner} on {len(y)} rows in {fit_s:.1f} s")
    path = path or MODELS / "roles.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # rounded to 6 significant digits: the file stays small, the outputs move < 1e-4
    text = json.dumps(out, separators=(",", ":"))
    text = _round_floats(text)
    path.write_text(text)
    return path


def _round_floats(text: str) -> str:
    import re

    return re.sub(r"-?\d+\.\d{6,}(?:e-?\d+)?", lambda m: f"{float(m.group(0)):.6g}", text)


# ---------------------------------------------------------------------------------------------
# evaluation


def _group_folds(groups: np.ndarray, n_folds: int) -> list[np.ndarray]:
    """Test indices of each fold: whole groups, assigned in a seeded random order."""
    uniq = np.unique(groups)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(uniq)
    fold_of = {g: i % n_folds for i, g in enumerate(order)}
    f = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(f == i) for i in range(n_folds)]


def cross_validate(
    learner: str, X: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int, n_folds: int, aug: dict | None = None
) -> np.ndarray:
    """Out-of-fold probabilities, grouped folds (no group in both train and test). ``aug``:
    augmented copies (X, y, group) added to the training side only, for the training groups
    only (a test song's copies never train)."""
    P = np.zeros((len(y), k))
    for test in _group_folds(groups, n_folds):
        train = np.setdiff1d(np.arange(len(y)), test)
        assert not set(groups[train]) & set(groups[test])
        Xt, yt = X[train], y[train]
        if aug is not None:
            keep = ~np.isin(aug["group"], groups[test])
            Xt, yt = np.r_[Xt, aug["X"][keep]], np.r_[yt, aug["y"][keep]]
        P[test] = LEARNERS[learner]().fit(Xt, yt, k).proba(X[test])
    return P


def load_augmented(classes: tuple[str, ...], copies: int = 99) -> dict | None:
    """The cached augmented copies 1..``copies`` of the corpus (kinds ``corpus_aug*``), or None."""
    kinds = sorted(p.name for p in (CACHE / f"v{FEATURE_VERSION}").glob("corpus_aug*"))
    kinds = [k for k in kinds if int(k.split("aug")[1]) <= copies]
    if not kinds:
        return None
    parts = [load_features(kind) for kind in kinds]
    return {
        "X": np.concatenate([p["X"] for p in parts]),
        "y": np.concatenate([_encode(p["role"], classes) for p in parts]),
        "group": np.concatenate([p["group"] for p in parts]),
        "kinds": kinds,
    }


def _topk(P: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    top = np.argsort(-P, axis=1)[:, :k]
    return (top == y[:, None]).any(axis=1)


def _per_role_table(true: np.ndarray, top1: np.ndarray, top2: np.ndarray, roles: tuple[str, ...]) -> list[str]:
    lines = ["| role | stems | top-1 | top-2 |", "| --- | ---: | ---: | ---: |"]
    for r in roles:
        m = true == r
        if m.sum():
            lines.append(f"| {r} | {m.sum()} | {top1[m].mean():.0%} | {top2[m].mean():.0%} |")
    lines.append(f"| **all** | {len(true)} | **{top1.mean():.1%}** | **{top2.mean():.1%}** |")
    return lines


def _confusion(true: np.ndarray, pred: np.ndarray, roles: tuple[str, ...]) -> list[str]:
    cols = [r for r in ALL_ROLES if r in set(pred) or r in set(true)]
    short = {r: r[:5] for r in cols}
    lines = ["| true \\ predicted | " + " | ".join(short[c] for c in cols) + " |",
             "| --- |" + " ---: |" * len(cols)]  # fmt: skip
    for r in cols:
        m = true == r
        if not m.sum():
            continue
        lines.append(f"| {r} | " + " | ".join(str(int((pred[m] == c).sum())) or "" for c in cols) + " |")
    return lines


def evaluate(n_folds: int = 10, learners: list[str] | None = None) -> str:
    data = load_features("corpus")
    bench = load_features("bench")
    X, groups = data["X"], data["group"]
    classes = tuple(r for r in ALL_ROLES if r in set(data["role"]))
    y = _encode(data["role"], classes)
    lines: list[str] = []
    say = lines.append
    say(f"corpus: {len(set(data['song']))} songs, {len(set(groups))} groups, {len(y)} stems, "
        f"{len(FEATURE_NAMES)} features; {n_folds}-fold grouped CV (folds by stems.csv group)")  # fmt: skip
    say("")
    say("| learner | top-1 | top-2 | mma top-1 | music21 top-1 | CV time (s) |")
    say("| --- | ---: | ---: | ---: | ---: | ---: |")
    oof = {}
    aug = load_augmented(classes)
    runs = [(n, None) for n in (learners or list(LEARNERS))]
    if aug is not None:
        runs += [(n + "+aug", aug) for n in (learners or list(LEARNERS)) if n in (SHIPPED, "logistic", "random_forest")]
    for name, a in runs:
        t0 = time.perf_counter()
        P = cross_validate(name.split("+")[0], X, y, groups, len(classes), n_folds, a)
        dt = time.perf_counter() - t0
        oof[name] = P
        t1, t2 = _topk(P, y, 1), _topk(P, y, 2)
        mma = data["source"] == "mma"
        say(f"| {name} | {t1.mean():.1%} | {t2.mean():.1%} | {t1[mma].mean():.1%} | {t1[~mma].mean():.1%} | {dt:.0f} |")
        print(lines[-1], flush=True)
    rule1 = np.array([r.split("|")[0] for r in data["rule"]])
    rule2 = np.array([r.split("|")[1] for r in data["rule"]])
    r1 = rule1 == data["role"]
    r2 = r1 | (rule2 == data["role"])
    say(f"| today's rules (analysis/roles.py, name \"Track 01\") | {r1.mean():.1%} | {r2.mean():.1%} | "
        f"{r1[data['source'] == 'mma'].mean():.1%} | {r1[data['source'] != 'mma'].mean():.1%} | |")  # fmt: skip

    shipped = SHIPPED + ("+aug" if AUGMENTED else "")
    name = shipped if shipped in oof else next(iter(oof))
    P = oof[name]
    pred = np.array(classes)[P.argmax(axis=1)]
    say("")
    say(f"Per role, grouped CV, {name} (and today's rules, top-1):")
    say("")
    t1, t2 = _topk(P, y, 1), _topk(P, y, 2)
    tab = _per_role_table(data["role"], t1, t2, classes)
    tab[0] += " rules top-1 |"
    tab[1] += " ---: |"
    for i, r in enumerate([r for r in classes if (data["role"] == r).sum()]):
        tab[2 + i] += f" {r1[data['role'] == r].mean():.0%} |"
    tab[-1] += f" {r1.mean():.1%} |"
    lines += tab
    say("")
    say(f"Confusion, grouped CV, {name} (rows: true role, columns: top-1):")
    say("")
    lines += _confusion(data["role"], pred, classes)

    # the shipped model on the bench songs
    path = MODELS / "roles.json"
    if path.exists():
        model = RoleModel.load(path)
        Pb = model.proba(bench["X"])
        roles_b = bench["role"]
        labelled = roles_b != ""
        known = np.isin(roles_b, model.roles)
        yb = _encode(roles_b, model.roles)
        b1 = np.zeros(len(yb), bool)
        b2 = np.zeros(len(yb), bool)
        b1[known] = _topk(Pb[known], yb[known], 1)
        b2[known] = _topk(Pb[known], yb[known], 2)
        rb1 = np.array([r.split("|")[0] for r in bench["rule"]]) == roles_b
        rb2 = rb1 | (np.array([r.split("|")[1] for r in bench["rule"]]) == roles_b)
        say("")
        say(f"LMMS bench songs (evaluation only; shipped model {path.name}, {path.stat().st_size / 1024:.0f} kB): "
            f"{labelled.sum()} labelled stems of {len(roles_b)}, {(labelled & ~known).sum()} of a role the corpus "
            f"lacks (synth_lead: counted wrong)")  # fmt: skip
        say("")
        say("| song | stems | model top-1 | model top-2 | rules top-1 | rules top-2 |")
        say("| --- | ---: | ---: | ---: | ---: | ---: |")
        for s in list(BENCH_LABELS) + ["all"]:
            m = labelled & ((bench["song"] == s) if s != "all" else True)
            say(f"| {s} | {m.sum()} | {b1[m].mean():.0%} | {b2[m].mean():.0%} | {rb1[m].mean():.0%} | {rb2[m].mean():.0%} |")
        m = labelled & known
        say(f"| all, roles the corpus has | {m.sum()} | {b1[m].mean():.0%} | {b2[m].mean():.0%} | "
            f"{rb1[m].mean():.0%} | {rb2[m].mean():.0%} |")  # fmt: skip
        say("")
        predb = np.array(model.roles)[Pb.argmax(axis=1)]
        say("Per role on the bench songs (model top-1, top-2; rules top-1):")
        say("")
        tab = _per_role_table(roles_b[labelled], b1[labelled], b2[labelled], ALL_ROLES)
        tab[0] += " rules top-1 |"
        tab[1] += " ---: |"
        present = [r for r in ALL_ROLES if (roles_b[labelled] == r).sum()]
        for i, r in enumerate(present):
            tab[2 + i] += f" {rb1[labelled & (roles_b == r)].mean():.0%} |"
        tab[-1] += f" {rb1[labelled].mean():.1%} |"
        lines += tab
        say("")
        say("Confusion on the bench songs (shipped model):")
        say("")
        lines += _confusion(roles_b[labelled], predb[labelled], ALL_ROLES)
        say("")
        say("Every bench stem (label, model top-2 with probabilities, rules):")
        say("")
        order = np.argsort(-Pb, axis=1)
        for i in range(len(roles_b)):
            a, b = order[i, 0], order[i, 1]
            say(f"- {bench['song'][i]}/{bench['file'][i]}: {roles_b[i] or '(excluded)'} -> "
                f"{model.roles[a]} {Pb[i, a]:.2f}, {model.roles[b]} {Pb[i, b]:.2f}; rules {bench['rule'][i]}")  # fmt: skip
    fs = np.r_[data["feature_s"], bench["feature_s"]]
    secs = np.r_[data["seconds"], bench["seconds"]]
    say("")
    say(f"Feature time: median {np.median(fs):.2f} s per stem ({np.median(fs / secs) * 30:.2f} s per 30 s of "
        f"audio; max {np.max(fs / secs) * 30:.2f}), one core under nice")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=("features", "train", "eval"))
    ap.add_argument("--learner", default=SHIPPED, choices=list(LEARNERS), help="train: which learner (default %(default)s)")
    ap.add_argument("--learners", default=None, help="eval: comma-separated learners (default: all)")
    ap.add_argument("--folds", type=int, default=10, help="eval: grouped folds (default %(default)s)")
    ap.add_argument("--out", default=None, help="eval: also write the tables to this file")
    ap.add_argument("--augmented", type=int, default=AUGMENTED,
                    help="features/train: augmented copies of the corpus to compute / train on (default %(default)s)")
    args = ap.parse_args(argv)
    build_features(verbose=args.command == "features", augmented=args.augmented)
    if args.command == "train":
        path = train_model(args.learner, augmented=args.augmented)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB)")
    elif args.command == "eval":
        text = evaluate(args.folds, args.learners.split(",") if args.learners else None)
        print(text)
        if args.out:
            Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
