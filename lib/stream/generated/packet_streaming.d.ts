import * as $protobuf from "protobufjs";
import Long = require("long");
export namespace wirecap {

    namespace streaming {

        interface IPacketHeader {
            tsSec?: (number|null);
            tsUsec?: (number|null);
            caplen?: (number|null);
            len?: (number|null);
        }

        class PacketHeader implements IPacketHeader {
            constructor(properties?: wirecap.streaming.IPacketHeader);
            public tsSec: number;
            public tsUsec: number;
            public caplen: number;
            public len: number;
            public static encode(message: wirecap.streaming.IPacketHeader, writer?: $protobuf.Writer): $protobuf.Writer;
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): wirecap.streaming.PacketHeader;
        }

        interface IPacketData {
            data?: (Uint8Array|null);
        }

        class PacketData implements IPacketData {
            constructor(properties?: wirecap.streaming.IPacketData);
            public data: Uint8Array;
            public static encode(message: wirecap.streaming.IPacketData, writer?: $protobuf.Writer): $protobuf.Writer;
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): wirecap.streaming.PacketData;
        }

        interface IPacket {
            header?: (wirecap.streaming.IPacketHeader|null);
            data?: (wirecap.streaming.IPacketData|null);
        }

        class Packet implements IPacket {
            constructor(properties?: wirecap.streaming.IPacket);
            public header?: (wirecap.streaming.IPacketHeader|null);
            public data?: (wirecap.streaming.IPacketData|null);
            public static encode(message: wirecap.streaming.IPacket, writer?: $protobuf.Writer): $protobuf.Writer;
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): wirecap.streaming.Packet;
        }
    }
}

export namespace google {

    namespace protobuf {

        interface IEmpty {
        }

        class Empty implements IEmpty {
            constructor(properties?: google.protobuf.IEmpty);
            public static encode(message: google.protobuf.IEmpty, writer?: $protobuf.Writer): $protobuf.Writer;
            public static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): google.protobuf.Empty;
        }
    }
}
