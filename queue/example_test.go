package queue_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/lianxin/lianxin/queue"
	"github.com/redis/go-redis/v9"
)

// A letter is queued, offered to the one ready agent, accepted and wrapped up.
func Example() {
	ctx := context.Background()
	m, _ := miniredis.Run() // or a real Redis
	defer m.Close()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	q, _ := queue.New(rdb, queue.Options{NodeID: "node-1", Queues: []queue.Def{{Name: "general"}}})

	desk, _ := q.Connect(ctx, queue.Profile{ID: "1001", Skills: map[string]int{"general": 3},
		Capacity: map[queue.Channel]int{queue.ChannelMailbox: 3}})
	_ = q.SetPresence(ctx, "1001", desk.ID, queue.PresenceReady, "")

	r, _ := q.Enqueue(ctx, queue.Intake{Channel: queue.ChannelMailbox, Line: "cd-city-0002", Queue: "general",
		Subject: "路灯不亮", Citizen: queue.Citizen{Phone: "+8613800138000"}}, "mailbox:cd-city-0002:retry-key-1")
	c, _ := q.Contact(ctx, r.TrackingNo)
	fmt.Println(c.State, c.Agent)

	_ = q.Accept(ctx, "1001", r.TrackingNo)
	_ = q.WrapUp(ctx, "1001", r.TrackingNo, queue.RequestHelp, queue.OutcomeDispatched, "转区城管局")
	c, _ = q.Contact(ctx, r.TrackingNo)
	fmt.Println(c.State, c.Outcome)
	// Output:
	// offered 1001
	// closed dispatched
}
