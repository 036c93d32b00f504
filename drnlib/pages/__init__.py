"""What the book's pages share, one module per part of the book (the pages themselves only set parameters, call
these and drnlib's engine, and plot):

- drn_classification.py  DRN Tables 1-2, Figures 3, 4, 6, 7: the ImageNet-style classifiers, trained once and
                         shared; class activation maps, box mass, high-frequency share of feature maps
- drn_segmentation.py    DRN Table 3 and Figure 8: segmentation runs, results merged architecture by architecture,
                         label-map pictures
- wod_classification.py  WoD Figure 1, Table 1, Figure A4: the CIFAR-10 recipe of the path-length experiment and
                         the ImageNet-style Table 1 rows
- wod_segmentation.py    WoD Tables 2-7: the networks with their WoD heads, one shared recipe, other test protocols
                         (splits, multi-scale, model averaging), category IoU, the paper's claims
- thin_objects.py        Beyond the papers: thin and small objects on synthetic scenes
"""
