"""Loaders for real data formats; they know nothing about tasks or streams."""

from .base import ArrayDataset, stratified_split
from .cifar import load_cifar10
from .digits import load_digits
from .imagefolder import load_image_folder
from .mnist import load_fashion_mnist, load_mnist, load_mnist_subset, read_idx
from .npz import load_npz
from .root import cache_dir, data_root, download, find_file
from .text import TextDataset, Vocabulary, load_text_table, load_vader, split_text, tokenize

__all__ = [
    "ArrayDataset",
    "TextDataset",
    "Vocabulary",
    "cache_dir",
    "data_root",
    "download",
    "find_file",
    "load_cifar10",
    "load_digits",
    "load_fashion_mnist",
    "load_image_folder",
    "load_mnist",
    "load_mnist_subset",
    "load_npz",
    "load_text_table",
    "load_vader",
    "read_idx",
    "split_text",
    "stratified_split",
    "tokenize",
]
