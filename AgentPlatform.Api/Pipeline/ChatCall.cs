using AgentPlatform.Api.Access;
using AgentPlatform.Api.Caching;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Upstream;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Http;

namespace AgentPlatform.Api.Pipeline;

/// <summary>
/// One model request — a chat completion or an embeddings request — on its way through the Api's stages
/// (<see cref="ChatPipeline"/>): who sent it and what, what each stage found, and its usage record. Disposing it ends it: the record goes to the ledger
/// (unless an agent run took the request over) and the pooled body goes back.
/// </summary>
public sealed class ChatCall(HttpContext context, ClientIdentity client, UsageRecord record, long started, ChatPipeline pipeline, ModelApi api = ModelApi.ChatCompletions)
    : IAsyncDisposable
{
    private PooledRequestBody? _body;

    public HttpContext Context => context;

    public ClientIdentity Client => client;

    /// <summary>The door the request came through, which decides its checks, its size and where the Router sends it.</summary>
    public ModelApi Api => api;

    /// <summary>The request's usage record, filled in by the stages.</summary>
    public UsageRecord Record => record;

    /// <summary>When the request arrived (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    public long Started => started;

    /// <summary>The request body, once read.</summary>
    public PooledRequestBody Body
    {
        get => _body ?? throw new InvalidOperationException("The request body has not been read yet.");
        internal set => _body = value;
    }

    public ChatRequestScan Scan { get; internal set; }

    /// <summary>Puts a rewritten body in the read one's place (a Responses request's conversation, expanded), scanned again.</summary>
    public void ReplaceBody(PooledRequestBody body)
    {
        _body?.Dispose();
        _body = body;
        Scan = ChatRequestScanner.Scan(body.Span, api);
    }

    /// <summary>The door's keeper of its answers (the Responses API's stored responses); null for most requests.</summary>
    public IAnswerKeeper? Keeper { get; set; }

    /// <summary>The whole answer as the door's JSON once worked out (<see cref="CacheStage.WholeAnswer"/>): empty when there is none.</summary>
    internal byte[]? WholeAnswer { get; set; }

    public CachePolicy CachePolicy { get; internal set; }

    /// <summary>The cache fill this request owes the others waiting on it (or a write-only fill), until it is stored or given up.</summary>
    public CacheFill? Fill { get; internal set; }

    /// <summary><c>hit</c>, <c>miss</c> or <c>bypass</c> once the cache was asked; null before.</summary>
    public string? CacheOutcome { get; internal set; }

    /// <summary>Where a hit was found (memory or Redis).</summary>
    public string? HitLevel { get; internal set; }

    /// <summary>What the request reserves in its limits, once sized (perhaps by the cache's lookup, to reserve in its round trip).</summary>
    public Sizing? Sizing { get; internal set; }

    /// <summary>The request's reservation, when the cache's lookup took it in its own script (<see cref="CacheLookup.Reserved"/>).</summary>
    public (PreparedReservation Prepared, StackExchange.Redis.RedisResult[] Result)? Reserved { get; internal set; }

    /// <summary>What the Router answered.</summary>
    public RouterAnswer Answer { get; } = new() { Api = api };

    /// <summary>Whether the request got past the Api's own checks to the Router.</summary>
    public bool Forwarded { get; internal set; }

    /// <summary>Whether an agent run took the request over (its model steps are the requests recorded).</summary>
    public bool HandedOver { get; private set; }

    internal void HandOver() => HandedOver = true;

    public async ValueTask DisposeAsync()
    {
        try
        {
            await pipeline.FinishAsync(this);
        }
        finally
        {
            _body?.Dispose();
            Answer.ReleaseCapture();
        }
    }
}
