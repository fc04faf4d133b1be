"""A keyframe strategy: options are its dataclass fields (``middle[offset=1]``)."""

from dataclasses import dataclass, field

from mer_bench.data.sample import KeyFrames, Sample


@dataclass(frozen=True, kw_only=True)
class MiddleApex:
    """The apex moved to the onset..offset middle (plus ``offset`` frames), on training samples."""

    name: str = field(default="middle", init=False)
    applies_to: str = "train"
    offset: int = 0

    def select(self, sample: Sample) -> KeyFrames:
        onset, end = sample.annotated.onset, sample.annotated.offset
        apex = min(max((onset + end) // 2 + self.offset, onset), end)
        return KeyFrames(onset, apex, end)

    def params(self) -> dict:
        return {"offset": self.offset}
