using AgentPlatform.Api.Access;

namespace AgentPlatform.Tests.Api.Access;

public sealed class BoundedExpirySetTests
{
    [Fact]
    public void An_entry_holds_until_its_moment_and_then_goes()
    {
        var set = new BoundedExpirySet(capacity: 10);
        set.Add("a", until: 100, now: 0);

        Assert.True(set.TryGetUntil("a", now: 99, out var until));
        Assert.Equal(100, until);
        Assert.False(set.TryGetUntil("a", now: 100, out _));
        Assert.True(set.IsEmpty);
    }

    [Fact]
    public void A_full_set_drops_the_lapsed_to_make_room_and_keeps_the_live()
    {
        var set = new BoundedExpirySet(capacity: 3);
        set.Add("lapsed", until: 10, now: 0);
        set.Add("live-1", until: 1_000, now: 0);
        set.Add("live-2", until: 1_000, now: 0);

        set.Add("new", until: 1_000, now: 500);

        Assert.Equal(3, set.Count);
        Assert.False(set.TryGetUntil("lapsed", now: 500, out _));
        Assert.True(set.TryGetUntil("live-1", now: 500, out _));
        Assert.True(set.TryGetUntil("new", now: 500, out _));
    }

    [Fact]
    public void A_set_full_of_live_entries_starts_over_rather_than_grow()
    {
        var set = new BoundedExpirySet(capacity: 1_000);
        for (var i = 0; i < 100_000; i++)
        {
            set.Add($"made-up-{i}", until: 1_000, now: 0);
        }

        Assert.InRange(set.Count, 1, 1_000);
        Assert.True(set.TryGetUntil("made-up-99999", now: 0, out _)); // the newest is always kept
    }
}
