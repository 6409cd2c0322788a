import NIOHTTPTypes
import NIOCore

/// Closes a connection whose request does not arrive in full (head to end) within `deadline`.
///
/// The idle timeout cuts a connection that sends nothing; a client that trickles its body a
/// byte at a time resets it with every byte. This bounds the whole request instead, so one
/// slow client holds a connection for at most `deadline` plus one idle timeout. Responses are
/// not timed: a log follow streams for as long as it likes once its request has arrived.
final class RequestReadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let deadline: TimeAmount
    private var timer: Scheduled<Void>?

    /// A handler closing connections whose request takes longer than `deadline` to arrive.
    init(deadline: TimeAmount) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            timer?.cancel()
            let channel = context.channel
            timer = context.eventLoop.scheduleTask(in: deadline) { channel.close(promise: nil) }
        case .end:
            timer?.cancel()
            timer = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }
}
