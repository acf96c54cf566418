/** The topics client's public surface, exported as one list by both the Node entry point and `wskit/browser`. */
export {
  TopicError,
  TOPIC_CLIENT_DEFAULTS,
  type TopicClientOptions,
  type TopicSubscription,
  type TopicPosition,
  type TopicData,
  type PublicationHandler,
  type PublicationInfo,
  type PublishAck,
  type SubscribeOptions,
  type SubscribedInfo,
} from './topics-client.js';
export { TOPICS_PROTOCOL } from './topics-wire.js';
