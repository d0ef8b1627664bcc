using System.Net;
using System.Net.Http.Headers;

namespace AgentPlatform.Router.Forwarding;

/// <summary>
/// The client's request body with only the <c>model</c> value replaced: written as three slices (before,
/// new model token, after) straight to the connection, so the body is never copied or re-serialized
/// and every unknown field reaches the provider byte for byte.
/// </summary>
internal sealed class ModelRewriteContent : HttpContent
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    private readonly ReadOnlyMemory<byte> _body;
    private readonly Range _modelToken;
    private readonly byte[] _newModelToken;

    public ModelRewriteContent(ReadOnlyMemory<byte> body, Range modelToken, byte[] newModelToken)
    {
        _body = body;
        _modelToken = modelToken;
        _newModelToken = newModelToken;
        Headers.ContentType = JsonContentType;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var (offset, length) = _modelToken.GetOffsetAndLength(_body.Length);
        await stream.WriteAsync(_body[..offset], cancellationToken);
        await stream.WriteAsync(_newModelToken, cancellationToken);
        await stream.WriteAsync(_body[(offset + length)..], cancellationToken);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _body.Length - _modelToken.GetOffsetAndLength(_body.Length).Length + _newModelToken.Length;
        return true;
    }
}
