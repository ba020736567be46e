export {
  diagnoseWorld, describeChange, diagnosisKernels,
  type WorldDiagnosis, type WorldDiagnosisOptions, type AttributeSensitivity, type CounterfactualPair,
} from './world-diagnosis.js';
export {
  differences, greedySelect, rowsOf, similarityScores, textDirections, uniquenessScores, type MatchedAttribute,
} from './attribute-matching.js';
export {
  classifierTarget, keypointTarget, pickGoals, segmenterTarget, type DiagnosisTarget, type KeypointGoalOptions, type TargetGoal, type TargetKind,
} from './targets.js';
export {
  OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, clipConsistencyLoss, clipPixels, promptFeatures, zeroShotLogits, zeroShotProbs,
} from './clip-regularizer.js';
export { bankFromList, bankPhrases, bareTemplate, fillTemplate, parseBank, type AttributeBank, type BankPhrase } from './bank.js';
export { applyEdit, umo, type UmoIteration, type UmoOptions, type UmoResult } from './umo.js';
export { ddpmHSpaceGenerator, latentHSpaceGenerator, type HSpaceGenerator } from './generators.js';
export { bankDirections, imageEmbeddings, matchEdits, type EditMatch, type RankedPhrase, type Tokenize } from './umo-analysis.js';
export { rankOf, ranks, spearman } from './agreement.js';
export { learnDirection, type DirectionOptions, type LearnedDirection } from './zoom-directions.js';
export { zoomCounterfactuals, zoomFlipRates, zoomSensitivity, type ZoomDirection, type ZoomOptions, type ZoomRun, type ZoomSensitivity } from './zoom.js';
export { accuracy, flipResistance, harden, type FlipResistance, type HardenOptions } from './harden.js';
export { attributeScores, diagnoseUmo, type UmoDiagnosis, type UmoDiagnosisOptions, type UmoEdit } from './umo-diagnosis.js';
export { cutouts, digin, disagreementObjective, neuronObjective, type DiginOptions, type DiginResult } from './digin.js';
export {
  EDIT_TYPES, editKeepsClass, phraseOf, randomWordPerturber, worldCaptioner, worldPerturber, type CaptionEdit, type Captioner, type EditType, type Perturber,
} from './lance-captions.js';
export { directionalSimilarity, lanceEdit, p2pMode, type LanceEditOptions, type LanceEditResult } from './lance.js';
export { lanceDiagnosis, type LanceEditRecord, type LanceOptions, type LanceResult } from './lance-diagnosis.js';
