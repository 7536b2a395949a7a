"""mhp_tf dataset builders (installed as the package ``mhp_tf_datasets``).

One sub-package per dataset, each a tensorflow-datasets builder that reads the
released files from a ``manual_dir`` and writes the mhp_tf example schema
(:mod:`mhp_tf.data.schema`).
"""
