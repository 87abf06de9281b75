"""A training set that prepares its pairs with the student's lesson-1 code: `split_ab` cuts each
A|B file, `paired_jitter` resizes, crops and mirrors both halves, `normalize` maps them to
[-1, 1]. The files, the direction and the sizes come from the AlignedDataset it wraps.
"""

from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.functional import to_tensor


def why_not_own(dataset):
    """None when OwnPairs can prepare `dataset`'s pairs with lesson 1's code, else the reason."""
    needs = {"layout": "A|B", "preprocess": "resize_and_crop", "input_nc": 3, "output_nc": 3}
    for name, want in needs.items():
        if not hasattr(dataset, name):
            return f"the training set is a {type(dataset).__name__}, not an AlignedDataset"
        if getattr(dataset, name) != want:
            return f"the training set has {name}={getattr(dataset, name)!r}; lesson 1 prepares {want}"
    return None


class OwnPairs(Dataset):
    """dataset's pairs as (x, y) in [-1, 1], made by split_ab, paired_jitter and normalize."""

    def __init__(self, dataset, split_ab, paired_jitter, normalize):
        reason = why_not_own(dataset)
        if reason:
            raise ValueError(f"OwnPairs cannot prepare these pairs: {reason}")
        self.base, self.split_ab, self.paired_jitter, self.normalize = (
            dataset, split_ab, paired_jitter, normalize)

    def __len__(self):
        return len(self.base)

    def __getattr__(self, name):  # pairs, direction, crop_size, deterministic(), ... of the base
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def __getitem__(self, index):
        path, _ = self.base.pairs[index]
        with Image.open(path) as image:
            a, b = self.split_ab(image.convert("RGB"))
        a, b = self.paired_jitter(to_tensor(a), to_tensor(b), self.base.load_size,
                                  self.base.crop_size, self.base.flip)
        a, b = self.normalize(a), self.normalize(b)
        return (a, b) if self.base.direction == "AtoB" else (b, a)
