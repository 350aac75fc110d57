"""The images a training run reads: the validation split, the augmentation, and each
replica's slice of every global batch, drawn from (seed, epoch) alone.

``training_data`` puts the training images of an epoch in an order drawn from
(seed, epoch), cuts it into global batches of ``batch_size`` (whatever the
replicas) and each batch into one piece per replica (``batch_layout``); each
input pipeline (one per worker) builds the pieces of its own replicas, and
augments them (``augmentation``) with seeds drawn from (seed, epoch, batch,
replica). So one worker and two see the same batches, and an epoch's images
never depend on the epochs before it: what makes a resumed run exact.
"""

import numpy as np
from sklearn.model_selection import train_test_split

from nets.errors import BadInput
from nets.backend import keras

# After Keras (nets.backend), so that TensorFlow starts quietly.
import tensorflow as tf

VALIDATION_FRACTION = 0.1


def augmentation(seed=0):
    """The random image changes ``train(augment=True)`` applies: shifts of up to a
    tenth of the image, rotations of up to 0.05 turn (18 degrees) and zooms of up to 10 %."""
    return keras.Sequential([
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed),
        keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed + 1),
        keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 2),
    ], name="augmentation")


class _KeyedSeed(keras.random.SeedGenerator):
    """Seeds drawn from a batch's key, not from a variable: the augmentation of a batch is a
    function of (seed, epoch, batch) alone. (No variable is made, so ``__init__`` is not called.)"""

    def __init__(self, seed, stream):  # noqa: super().__init__ would create a state variable
        self.seed, self.stream, self.draws = seed, stream, 0

    def next(self, ordered=True):
        self.draws += 1
        return tf.stack([tf.cast(self.seed, tf.int64), self.stream * 16 + self.draws])


def batch_layout(images, batch_size, replicas):
    """``[[(start, end) per replica] per step]``: each global batch of ``batch_size`` positions
    cut into ``replicas`` equal pieces; a last, partial batch is cut into nearly equal
    pieces if every replica gets at least one image, else dropped."""
    piece = batch_size // replicas
    full, rest = divmod(images, batch_size)
    layout = [[(k * batch_size + j * piece, k * batch_size + (j + 1) * piece) for j in range(replicas)]
              for k in range(full)]
    if rest >= replicas:
        sizes = [rest // replicas + (j < rest % replicas) for j in range(replicas)]
        ends = full * batch_size + np.cumsum(sizes)
        layout.append([(int(end - size), int(end)) for end, size in zip(ends, sizes)])
    if not layout:
        raise BadInput(f"The training split has {images} images, fewer than the {replicas} replicas")
    return layout


def training_data(strategy, images, labels, batch_size, seed, augment, epoch):
    """The training images as a distributed dataset, and the steps of an epoch.

    Each epoch (the value of the variable ``epoch`` when the epoch's iterator starts) puts
    the images in an order drawn from (seed, epoch), cuts it into global batches and each
    batch into one piece per replica (``batch_layout``); every input pipeline (one per
    worker) builds the pieces of its own replicas, augmented (``augmentation``) with seeds
    drawn from (seed, epoch, batch, replica).
    """
    replicas = strategy.num_replicas_in_sync
    layout = batch_layout(len(images), batch_size, replicas)
    layers = augmentation(seed).layers if augment else []

    def dataset_fn(context):
        local = replicas // context.num_input_pipelines
        slots = range(context.input_pipeline_id * local, (context.input_pipeline_id + 1) * local)
        pieces = [(*layout[step][slot], step * replicas + slot) for step in range(len(layout)) for slot in slots]
        starts, ends, streams = (np.array(column, dtype="int64") for column in zip(*pieces))
        x, y = tf.constant(images), tf.constant(labels)

        def one_epoch(_):
            now = epoch.read_value()
            order = tf.argsort(tf.random.stateless_uniform([len(images)], seed=tf.stack([tf.cast(seed, tf.int64),
                                                                                         now])))

            def piece(start, end, stream):
                chosen = order[start:end]
                batch = tf.gather(x, chosen)
                keyed = _KeyedSeed(seed, now * (len(layout) * replicas) + stream)
                for layer in layers:
                    batch = layer.transform_images(
                        batch, layer.get_random_transformation(batch, training=True, seed=keyed), training=True)
                return batch, tf.gather(y, chosen)

            return tf.data.Dataset.from_tensor_slices((starts, ends, streams)).map(piece)

        dataset = (tf.data.Dataset.range(1).flat_map(one_epoch)
                   .apply(tf.data.experimental.assert_cardinality(len(pieces))).prefetch(2))
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF  # ours
        options.deterministic = True
        return dataset.with_options(options)

    return strategy.distribute_datasets_from_function(dataset_fn), len(layout)


def validation_split(data, seed):
    """Hold a stratified tenth of the training images out for early stopping, so the
    test images that give the reported accuracy never choose the weights."""
    if len(data.x_train) < 10 * data.num_classes:  # too few to split: validate on the training set
        return data.x_train, data.x_train, data.y_train, data.y_train
    return train_test_split(data.x_train, data.y_train, test_size=VALIDATION_FRACTION,
                            stratify=data.y_train, random_state=seed)
