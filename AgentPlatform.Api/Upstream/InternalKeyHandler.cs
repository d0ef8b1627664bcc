using System.Net.Http.Headers;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Upstream;

/// <summary>
/// Presents the internal key (<c>AgentPlatform:InternalKey</c>) on every call to the Router, which
/// answers no one without it. It replaces any credential already set (the OpenAI SDK of the agents'
/// steps insists on one of its own).
/// </summary>
internal sealed class InternalKeyHandler(IOptions<ApiOptions> options) : DelegatingHandler
{
    private readonly AuthenticationHeaderValue _internalKey = new("Bearer", options.Value.InternalKey);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = _internalKey;
        return base.SendAsync(request, cancellationToken);
    }
}
