"""Make ``monitor/data/voice_cohort.npz``: the comparison population shipped with the project.

Embeds every recording of ``../shared/data/voices/cohort`` (125 LibriSpeech train-clean-100 speakers,
one utterance each, CC BY 4.0) in every listening condition, exactly as ``likeness cohort add`` does,
and keeps the embeddings only, never the audio. Run again after the voice model or the conditions change:
``python -m bench.ship_cohort`` from the repository root.
"""

from __future__ import annotations

import numpy as np

from bench.calibrate import DATA, default_config
from enrollment import voice
from enrollment.conditions import VOICE_CONDITIONS
from enrollment.media import sha256_file
from monitor.matching.voice_cohort import SHIPPED_VOICE_COHORT, audio_files, embed_voice_file


def main() -> None:
    config = default_config()
    embeddings, labels, digests = [], [], []
    for path in audio_files(DATA / "voices" / "cohort"):
        found = embed_voice_file(path, config.voice, config.media)
        if found is None:
            print(f"skipped {path.name}: too little speech")
            continue
        embeddings.append(found)
        labels.append(path.name.split("-")[0])  # LibriSpeech names start with the speaker id
        digests.append(sha256_file(path))
    SHIPPED_VOICE_COHORT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        SHIPPED_VOICE_COHORT, embeddings=np.stack(embeddings, axis=1).astype(np.float32),
        labels=np.array(labels), sha256=np.array(digests), conditions=np.array(VOICE_CONDITIONS),
        model_version=np.array(voice.voice_model_version()),
        attribution=np.array("LibriSpeech ASR corpus (Panayotov et al., 2015), CC BY 4.0, www.openslr.org/12"))
    print(f"{SHIPPED_VOICE_COHORT}: {len(labels)} voices × {len(VOICE_CONDITIONS)} conditions")


if __name__ == "__main__":
    main()
