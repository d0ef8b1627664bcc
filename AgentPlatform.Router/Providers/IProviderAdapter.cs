using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Providers;

/// <summary>
/// Speaks one provider's API on the Router's behalf: where a request goes, how it is authenticated and
/// shaped, and how the answer is turned into the format of the door the request came through (OpenAI's
/// Chat Completions or embeddings, Anthropic's Messages), whatever the provider.
/// </summary>
public interface IProviderAdapter
{
    /// <summary>The name a deployment's <c>Provider</c> uses; see <see cref="ProviderNames"/>.</summary>
    string Name { get; }

    /// <summary>Whether answers to a door's requests are rewritten at the deployment (so the provider's Content-Length no longer holds).</summary>
    bool TranslatesAnswer(ProviderEndpoint endpoint, ModelApi api);

    /// <summary>Where the deployment's chat requests go; computed once per deployment.</summary>
    Uri RequestUri(DeploymentOptions options);

    /// <summary>Where a deployment with <see cref="DeploymentOptions.ResponsesApi"/> takes Responses requests; null when the provider has none.</summary>
    Uri? ResponsesUri(DeploymentOptions options) => null;

    /// <summary>
    /// The request for one attempt on <paramref name="endpoint"/>. Throws
    /// <see cref="UntranslatableRequestException"/> when the request cannot be said in the provider's API.
    /// </summary>
    HttpRequestMessage CreateRequest(ProviderEndpoint endpoint, ChatRequestBody request);

    /// <summary>The answer in the door's format: <paramref name="answer"/> itself when the deployment speaks it.</summary>
    Stream ReadAnswer(ProviderEndpoint endpoint, HttpResponseMessage response, Stream answer, ModelApi api);
}

/// <summary>
/// The client's request as the Router received it: the raw body and what the scan found. A chat
/// completions stream always asks the provider for its usage (the Router counts every answer's tokens);
/// when the client did not ask for it, the Router takes the usage chunk out again before the client sees it.
/// </summary>
/// <param name="Api">The door the request came through, which decides its shape.</param>
/// <param name="AnthropicHeaders">
/// A Messages request's <c>anthropic-version</c> and <c>anthropic-beta</c> as the client sent them, for an
/// Anthropic deployment to honour (null when not sent).
/// </param>
public readonly record struct ChatRequestBody(
    ReadOnlyMemory<byte> Body, Range ModelToken, bool Stream, StreamOptionsKind StreamOptions, ModelApi Api = ModelApi.ChatCompletions,
    (string? Version, string? Beta) AnthropicHeaders = default)
{
    /// <summary>Whether <c>stream_options.include_usage</c> must be added for the provider to report usage.</summary>
    public bool AddIncludeUsage => Api == ModelApi.ChatCompletions && Stream && StreamOptions == StreamOptionsKind.Absent;
}

/// <summary>A request the provider's API has no way to express; the client gets a 400 naming the field.</summary>
public sealed class UntranslatableRequestException(string message, string? param) : Exception(message)
{
    public string? Param { get; } = param;
}
