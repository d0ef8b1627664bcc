namespace AgentPlatform.Api.Pipeline;

/// <summary>
/// A door that keeps its answers for later requests — the Responses API, whose responses are stored for the
/// conversation that follows them: told of every whole answer, from the Router or the cache, and asked to make
/// a cached answer its request's own before it is served.
/// </summary>
public interface IAnswerKeeper
{
    /// <summary>A cached answer as this request's own (a response gets its own id, time and chain).</summary>
    byte[] OwnCachedAnswer(ReadOnlySpan<byte> cached);

    /// <summary>
    /// Keeps a whole, successful answer (the door's JSON, as the client got it); awaited before the response
    /// ends, so the client's next request finds it.
    /// </summary>
    Task KeepAsync(ReadOnlyMemory<byte> answer);
}
