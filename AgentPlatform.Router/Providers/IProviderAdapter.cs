using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Providers;

/// <summary>
/// Speaks one provider's API on the Router's behalf: where a chat request goes, how it is
/// authenticated and shaped, and how the answer is turned into OpenAI's Chat Completions format,
/// which is what the Api and every client see whatever the provider.
/// </summary>
public interface IProviderAdapter
{
    /// <summary>The name a deployment's <c>Provider</c> uses; see <see cref="ProviderNames"/>.</summary>
    string Name { get; }

    /// <summary>Whether answers are rewritten (so the provider's Content-Length no longer holds).</summary>
    bool TranslatesAnswer { get; }

    /// <summary>Where the deployment's chat requests go; computed once per deployment.</summary>
    Uri RequestUri(DeploymentOptions options);

    /// <summary>
    /// The request for one attempt on <paramref name="endpoint"/>. Throws
    /// <see cref="UntranslatableRequestException"/> when the request cannot be said in the provider's API.
    /// </summary>
    HttpRequestMessage CreateRequest(ProviderEndpoint endpoint, ChatRequestBody request);

    /// <summary>The answer in OpenAI's format: <paramref name="answer"/> itself when the provider speaks it.</summary>
    Stream ReadAnswer(HttpResponseMessage response, Stream answer);
}

/// <summary>
/// The client's chat request as the Router received it: the raw body and what the scan found. A stream
/// always asks the provider for its usage (the Router counts every answer's tokens); when the client
/// did not ask for it, the Router takes the usage chunk out again before the client sees it.
/// </summary>
public readonly record struct ChatRequestBody(ReadOnlyMemory<byte> Body, Range ModelToken, bool Stream, StreamOptionsKind StreamOptions)
{
    /// <summary>Whether <c>stream_options.include_usage</c> must be added for the provider to report usage.</summary>
    public bool AddIncludeUsage => Stream && StreamOptions == StreamOptionsKind.Absent;
}

/// <summary>A request the provider's API has no way to express; the client gets a 400 naming the field.</summary>
public sealed class UntranslatableRequestException(string message, string? param) : Exception(message)
{
    public string? Param { get; } = param;
}
