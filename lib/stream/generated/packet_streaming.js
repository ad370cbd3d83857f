/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars*/
"use strict";

var $protobuf = require("protobufjs/minimal");

// Common aliases
var $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;

// Exported root namespace
var $root = $protobuf.roots["wirecap"] || ($protobuf.roots["wirecap"] = {});

$root.wirecap = (function() {

    /**
     * Namespace wirecap.
     * @exports wirecap
     * @namespace
     */
    var wirecap = {};

    wirecap.streaming = (function() {

        /**
         * Namespace streaming.
         * @memberof wirecap
         * @namespace
         */
        var streaming = {};

        streaming.PacketHeader = (function() {

            /**
             * Properties of a PacketHeader.
             * @memberof wirecap.streaming
             * @interface IPacketHeader
             * @property {number|null} [tsSec] PacketHeader tsSec
             * @property {number|null} [tsUsec] PacketHeader tsUsec
             * @property {number|null} [caplen] PacketHeader caplen
             * @property {number|null} [len] PacketHeader len
             */

            /**
             * Constructs a new PacketHeader.
             * @memberof wirecap.streaming
             * @classdesc Represents a PacketHeader.
             * @implements IPacketHeader
             * @constructor
             * @param {wirecap.streaming.IPacketHeader=} [properties] Properties to set
             */
            function PacketHeader(properties) {
                if (properties)
                    for (var keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * PacketHeader tsSec.
             * @member {number} tsSec
             * @memberof wirecap.streaming.PacketHeader
             * @instance
             */
            PacketHeader.prototype.tsSec = 0;

            /**
             * PacketHeader tsUsec.
             * @member {number} tsUsec
             * @memberof wirecap.streaming.PacketHeader
             * @instance
             */
            PacketHeader.prototype.tsUsec = 0;

            /**
             * PacketHeader caplen.
             * @member {number} caplen
             * @memberof wirecap.streaming.PacketHeader
             * @instance
             */
            PacketHeader.prototype.caplen = 0;

            /**
             * PacketHeader len.
             * @member {number} len
             * @memberof wirecap.streaming.PacketHeader
             * @instance
             */
            PacketHeader.prototype.len = 0;

            /**
             * Encodes the specified PacketHeader message. Does not implicitly {@link wirecap.streaming.PacketHeader.verify|verify} messages.
             * @function encode
             * @memberof wirecap.streaming.PacketHeader
             * @static
             * @param {wirecap.streaming.IPacketHeader} message PacketHeader message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            PacketHeader.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.tsSec != null && Object.hasOwnProperty.call(message, "tsSec"))
                    writer.uint32(/* id 1, wireType 0 =*/8).uint32(message.tsSec);
                if (message.tsUsec != null && Object.hasOwnProperty.call(message, "tsUsec"))
                    writer.uint32(/* id 2, wireType 0 =*/16).uint32(message.tsUsec);
                if (message.caplen != null && Object.hasOwnProperty.call(message, "caplen"))
                    writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.caplen);
                if (message.len != null && Object.hasOwnProperty.call(message, "len"))
                    writer.uint32(/* id 4, wireType 0 =*/32).uint32(message.len);
                return writer;
            };

            /**
             * Decodes a PacketHeader message from the specified reader or buffer.
             * @function decode
             * @memberof wirecap.streaming.PacketHeader
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {wirecap.streaming.PacketHeader} PacketHeader
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            PacketHeader.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                var end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.wirecap.streaming.PacketHeader();
                while (reader.pos < end) {
                    var tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.tsSec = reader.uint32();
                            break;
                        }
                    case 2: {
                            message.tsUsec = reader.uint32();
                            break;
                        }
                    case 3: {
                            message.caplen = reader.uint32();
                            break;
                        }
                    case 4: {
                            message.len = reader.uint32();
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return PacketHeader;
        })();

        streaming.PacketData = (function() {

            /**
             * Properties of a PacketData.
             * @memberof wirecap.streaming
             * @interface IPacketData
             * @property {Uint8Array|null} [data] PacketData data
             */

            /**
             * Constructs a new PacketData.
             * @memberof wirecap.streaming
             * @classdesc Represents a PacketData.
             * @implements IPacketData
             * @constructor
             * @param {wirecap.streaming.IPacketData=} [properties] Properties to set
             */
            function PacketData(properties) {
                if (properties)
                    for (var keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * PacketData data.
             * @member {Uint8Array} data
             * @memberof wirecap.streaming.PacketData
             * @instance
             */
            PacketData.prototype.data = $util.newBuffer([]);

            /**
             * Encodes the specified PacketData message. Does not implicitly {@link wirecap.streaming.PacketData.verify|verify} messages.
             * @function encode
             * @memberof wirecap.streaming.PacketData
             * @static
             * @param {wirecap.streaming.IPacketData} message PacketData message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            PacketData.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.data != null && Object.hasOwnProperty.call(message, "data"))
                    writer.uint32(/* id 1, wireType 2 =*/10).bytes(message.data);
                return writer;
            };

            /**
             * Decodes a PacketData message from the specified reader or buffer.
             * @function decode
             * @memberof wirecap.streaming.PacketData
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {wirecap.streaming.PacketData} PacketData
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            PacketData.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                var end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.wirecap.streaming.PacketData();
                while (reader.pos < end) {
                    var tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.data = reader.bytes();
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return PacketData;
        })();

        streaming.Packet = (function() {

            /**
             * Properties of a Packet.
             * @memberof wirecap.streaming
             * @interface IPacket
             * @property {wirecap.streaming.IPacketHeader|null} [header] Packet header
             * @property {wirecap.streaming.IPacketData|null} [data] Packet data
             */

            /**
             * Constructs a new Packet.
             * @memberof wirecap.streaming
             * @classdesc Represents a Packet.
             * @implements IPacket
             * @constructor
             * @param {wirecap.streaming.IPacket=} [properties] Properties to set
             */
            function Packet(properties) {
                if (properties)
                    for (var keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * Packet header.
             * @member {wirecap.streaming.IPacketHeader|null|undefined} header
             * @memberof wirecap.streaming.Packet
             * @instance
             */
            Packet.prototype.header = null;

            /**
             * Packet data.
             * @member {wirecap.streaming.IPacketData|null|undefined} data
             * @memberof wirecap.streaming.Packet
             * @instance
             */
            Packet.prototype.data = null;

            /**
             * Encodes the specified Packet message. Does not implicitly {@link wirecap.streaming.Packet.verify|verify} messages.
             * @function encode
             * @memberof wirecap.streaming.Packet
             * @static
             * @param {wirecap.streaming.IPacket} message Packet message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Packet.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                if (message.header != null && Object.hasOwnProperty.call(message, "header"))
                    $root.wirecap.streaming.PacketHeader.encode(message.header, writer.uint32(/* id 1, wireType 2 =*/10).fork(), q + 1).ldelim();
                if (message.data != null && Object.hasOwnProperty.call(message, "data"))
                    $root.wirecap.streaming.PacketData.encode(message.data, writer.uint32(/* id 2, wireType 2 =*/18).fork(), q + 1).ldelim();
                return writer;
            };

            /**
             * Decodes a Packet message from the specified reader or buffer.
             * @function decode
             * @memberof wirecap.streaming.Packet
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {wirecap.streaming.Packet} Packet
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Packet.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                var end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.wirecap.streaming.Packet();
                while (reader.pos < end) {
                    var tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    case 1: {
                            message.header = $root.wirecap.streaming.PacketHeader.decode(reader, reader.uint32(), undefined, long + 1);
                            break;
                        }
                    case 2: {
                            message.data = $root.wirecap.streaming.PacketData.decode(reader, reader.uint32(), undefined, long + 1);
                            break;
                        }
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return Packet;
        })();

        return streaming;
    })();

    return wirecap;
})();

$root.google = (function() {

    /**
     * Namespace google.
     * @exports google
     * @namespace
     */
    var google = {};

    google.protobuf = (function() {

        /**
         * Namespace protobuf.
         * @memberof google
         * @namespace
         */
        var protobuf = {};

        protobuf.Empty = (function() {

            /**
             * Properties of an Empty.
             * @memberof google.protobuf
             * @interface IEmpty
             */

            /**
             * Constructs a new Empty.
             * @memberof google.protobuf
             * @classdesc Represents an Empty.
             * @implements IEmpty
             * @constructor
             * @param {google.protobuf.IEmpty=} [properties] Properties to set
             */
            function Empty(properties) {
                if (properties)
                    for (var keys = Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            }

            /**
             * Encodes the specified Empty message. Does not implicitly {@link google.protobuf.Empty.verify|verify} messages.
             * @function encode
             * @memberof google.protobuf.Empty
             * @static
             * @param {google.protobuf.IEmpty} message Empty message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Empty.encode = function encode(message, writer, q) {
                if (!writer)
                    writer = $Writer.create();
                if (q === undefined)
                    q = 0;
                if (q > $util.recursionLimit)
                    throw Error("max depth exceeded");
                return writer;
            };

            /**
             * Decodes an Empty message from the specified reader or buffer.
             * @function decode
             * @memberof google.protobuf.Empty
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {google.protobuf.Empty} Empty
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Empty.decode = function decode(reader, length, error, long) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (long === undefined)
                    long = 0;
                if (long > $Reader.recursionLimit)
                    throw Error("maximum nesting depth exceeded");
                var end, message;
                if (length === undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = new $root.google.protobuf.Empty();
                while (reader.pos < end) {
                    var tag = reader.uint32();
                    if (tag === error)
                        break;
                    switch (tag >>> 3) {
                    default:
                        reader.skipType(tag & 7, long);
                        break;
                    }
                }
                if (length !== undefined) {
                    if (reader.pos !== end)
                        throw RangeError("index out of range");
                    reader.len = length;
                }
                return message;
            };

            return Empty;
        })();

        return protobuf;
    })();

    return google;
})();

module.exports = $root;
